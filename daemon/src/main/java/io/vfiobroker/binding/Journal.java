package io.vfiobroker.binding;

import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.FileVersion;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The binding journal: an append-only JSON-lines file, fsynced after every record, written before each sysfs
 * change (intent) and after it (done). Chosen over SQLite because it needs no native driver in a root daemon,
 * a torn last line is the only possible damage (and is ignored on replay), and an admin can read it with less.
 * A file lock keeps the daemon and the CLI apart: the threads of one process share it (they serialize per IOMMU group
 * in {@link BindingService}), and another process gets it only once none of them is changing a binding.
 */
public final class Journal {

    public enum Op { BIND, RELEASE }

    public enum Phase { BEGIN, INTENT, DONE, COMMIT, ROLLBACK, SNAPSHOT }

    /** One record. {@code originalDriver}/{@code originalOverride} are what the device had before we touched it. */
    public record Entry(long seq, String time, String txn, Op op, Phase phase, Integer group, String device,
                        String originalDriver, String originalOverride, String note) {
    }

    /** A device bound by us, with what to restore it to. */
    public record Owned(PciAddress device, int group, String originalDriver, String originalOverride, String since) {
    }

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final Path file;
    private final Path lockFile;
    private FileChannel out;
    private long seq;
    // Transactions a thread of this process is carrying out: open in the file, but not for reconcile to touch.
    private final Set<String> inFlight = new HashSet<>();
    // The cross-process lock, held while any thread of this process is inside exclusive().
    private final Object fileLockMonitor = new Object();
    private int fileLockUsers;
    private FileChannel lockChannel;
    private FileLock fileLock;

    public Journal(Path stateDir) {
        try {
            Files.createDirectories(stateDir);
            try {
                Files.setPosixFilePermissions(stateDir, PosixFilePermissions.fromString("rwx------"));
            } catch (UnsupportedOperationException | IOException ignored) {
                // best effort: a read-only or foreign file system keeps its own modes
            }
            this.file = stateDir.resolve("binding-journal.jsonl");
            this.lockFile = stateDir.resolve("binding.lock");
            this.seq = readAll().stream().mapToLong(Entry::seq).max().orElse(0);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open binding journal in " + stateDir + ": " + e.getMessage(), e);
        }
    }

    public Path file() {
        return file;
    }

    /**
     * Runs {@code work} holding the cross-process file lock. Threads of this process share it, so a sysfs write that
     * blocks in the kernel (vfio-pci's remove waits for the device's fds) holds up nobody in this process.
     */
    public <T> T exclusive(Supplier<T> work) {
        holdFileLock();
        try {
            return work.get();
        } finally {
            dropFileLock();
        }
    }

    private void holdFileLock() {
        synchronized (fileLockMonitor) {
            if (fileLockUsers == 0) {
                FileChannel ch = null;
                try {
                    ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                    fileLock = ch.lock();
                    lockChannel = ch;
                } catch (IOException e) {
                    closeQuietly(ch);
                    throw new UncheckedIOException("cannot lock " + lockFile + ": " + e.getMessage(), e);
                }
            }
            fileLockUsers++;
        }
    }

    private void dropFileLock() {
        synchronized (fileLockMonitor) {
            if (--fileLockUsers > 0) return;
            try {
                fileLock.release();
            } catch (IOException ignored) {
                // closing the channel below drops the lock in any case
            }
            closeQuietly(lockChannel);
            fileLock = null;
            lockChannel = null;
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            if (ch != null) ch.close();
        } catch (IOException ignored) {
            // nothing left to release
        }
    }

    public synchronized Entry append(String txn, Op op, Phase phase, Integer group, PciAddress device, String originalDriver,
                                     String originalOverride, String note) {
        Entry e = new Entry(++seq, Instant.now().toString(), txn, op, phase, group, device == null ? null : device.toString(),
                originalDriver, originalOverride, note);
        try {
            if (out == null) {
                out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
            }
            ByteBuffer line = ByteBuffer.wrap((JSON.writeValueAsString(e) + "\n").getBytes(StandardCharsets.UTF_8));
            while (line.hasRemaining()) out.write(line);
            out.force(false);
            if (phase == Phase.BEGIN) inFlight.add(txn);
            if (phase == Phase.COMMIT || phase == Phase.ROLLBACK) inFlight.remove(txn);
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot write binding journal " + file + ": " + ex.getMessage(), ex);
        }
        return e;
    }

    /**
     * The thread carrying out {@code txn} is done with it: if it did not commit or roll back (an exception it did not
     * expect), the transaction is now an orphan, for reconcile to settle as it would after a crash.
     */
    public synchronized void detach(String txn) {
        inFlight.remove(txn);
    }

    /** Open transactions no thread of this process is carrying out: what a crash (or a failed thread) left behind. */
    public synchronized Map<String, List<Entry>> orphans() {
        Map<String, List<Entry>> out = new LinkedHashMap<>(parsed().state().unfinished());
        out.keySet().removeAll(inFlight);
        return out;
    }

    // The parsed journal and its replay, kept while the file is unchanged (size, mtime, inode): every lease end
    // asks who owns a group, and re-parsing the whole file each time costs as much as the journal is long.
    private record Parsed(Optional<FileVersion> version, List<Entry> entries, State state) {
    }

    private Parsed parsed;

    /** Every complete record; a torn last line (crash mid-write) is skipped. */
    public synchronized List<Entry> readAll() {
        return parsed().entries();
    }

    private synchronized Parsed parsed() {
        Optional<FileVersion> version;
        try {
            version = FileVersion.of(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read binding journal " + file + ": " + e.getMessage(), e);
        }
        if (parsed == null || !parsed.version().equals(version)) {
            List<Entry> entries = version.isEmpty() ? List.of() : List.copyOf(parse());
            parsed = new Parsed(version, entries, replay(entries));
        }
        return parsed;
    }

    private List<Entry> parse() {
        List<Entry> entries = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (line.isBlank()) continue;
                try {
                    entries.add(JSON.readValue(line, Entry.class));
                } catch (RuntimeException torn) {
                    // only the last line can be torn; anything unparsable is not a record
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read binding journal " + file + ": " + e.getMessage(), e);
        }
        return entries;
    }

    /** Devices bound by committed binds and not restored by committed releases. */
    public Map<PciAddress, Owned> owned() {
        return new LinkedHashMap<>(parsed().state().owned());
    }

    /** What replaying the journal yields: current ownership, and transactions that began but never ended. */
    public record State(Map<PciAddress, Owned> owned, Map<String, List<Entry>> unfinished) {
    }

    public static State replay(List<Entry> entries) {
        Map<PciAddress, Owned> owned = new LinkedHashMap<>();
        Map<String, List<Entry>> open = new LinkedHashMap<>();
        for (Entry e : entries) {
            switch (e.phase()) {
                case SNAPSHOT -> owned.put(PciAddress.parse(e.device()),
                        new Owned(PciAddress.parse(e.device()), e.group(), e.originalDriver(), e.originalOverride(), e.note()));
                case BEGIN, INTENT, DONE -> open.computeIfAbsent(e.txn(), k -> new ArrayList<>()).add(e);
                case COMMIT -> {
                    List<Entry> txn = open.remove(e.txn());
                    if (txn == null) break;
                    for (Entry step : txn) {
                        if (step.phase() != Phase.DONE || step.device() == null) continue;
                        PciAddress a = PciAddress.parse(step.device());
                        if (step.op() == Op.BIND) {
                            owned.putIfAbsent(a, new Owned(a, step.group(), step.originalDriver(), step.originalOverride(), step.time()));
                        } else {
                            owned.remove(a);
                        }
                    }
                }
                case ROLLBACK -> open.remove(e.txn());
            }
        }
        return new State(owned, open);
    }

    /**
     * Rewrites the journal as a snapshot of current ownership followed by the records of transactions still open
     * (atomic rename), so it does not grow forever, not even while one group's release waits in the kernel. Replaying
     * the result gives the same ownership and the same open transactions.
     */
    public synchronized void compact() {
        State st = parsed().state();
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        StringBuilder sb = new StringBuilder();
        long n = 0;
        for (Owned o : st.owned().values()) {
            Entry e = new Entry(++n, Instant.now().toString(), "snapshot", Op.BIND, Phase.SNAPSHOT, o.group(), o.device().toString(),
                    o.originalDriver(), o.originalOverride(), o.since());
            sb.append(JSON.writeValueAsString(e)).append('\n');
        }
        for (List<Entry> txn : st.unfinished().values()) {
            for (Entry e : txn) {
                Entry kept = new Entry(++n, e.time(), e.txn(), e.op(), e.phase(), e.group(), e.device(), e.originalDriver(),
                        e.originalOverride(), e.note());
                sb.append(JSON.writeValueAsString(kept)).append('\n');
            }
        }
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ch.write(ByteBuffer.wrap(sb.toString().getBytes(StandardCharsets.UTF_8)));
                ch.force(true);
            }
            if (out != null) {
                out.close();
                out = null;
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
            seq = n;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot compact binding journal " + file + ": " + e.getMessage(), e);
        }
    }
}
