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
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * The binding journal: an append-only JSON-lines file, fsynced after every record, written before each sysfs
 * change (intent) and after it (done). Chosen over SQLite because it needs no native driver in a root daemon,
 * a torn last line is the only possible damage (and is ignored on replay), and an admin can read it with less.
 * A file lock serializes the daemon and the CLI, so binds never interleave across processes either.
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
    private final ReentrantLock local = new ReentrantLock();
    private FileChannel out;
    private long seq;

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

    /** Runs {@code work} holding the in-process lock and the cross-process file lock. */
    public <T> T exclusive(Supplier<T> work) {
        local.lock();
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock ignored = ch.lock()) {
            return work.get();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lock " + lockFile + ": " + e.getMessage(), e);
        } finally {
            local.unlock();
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
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot write binding journal " + file + ": " + ex.getMessage(), ex);
        }
        return e;
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

    /** Compacts when no transaction is open (the caller holds {@link #exclusive}); true if it did. */
    public synchronized boolean compactIfQuiet() {
        State st = parsed().state();
        if (!st.unfinished().isEmpty()) return false;
        compact(st.owned());
        return true;
    }

    /** Rewrites the journal as a snapshot of current ownership (atomic rename), so it does not grow forever. */
    public synchronized void compact(Map<PciAddress, Owned> owned) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        StringBuilder sb = new StringBuilder();
        long n = 0;
        for (Owned o : owned.values()) {
            Entry e = new Entry(++n, Instant.now().toString(), "snapshot", Op.BIND, Phase.SNAPSHOT, o.group(), o.device().toString(),
                    o.originalDriver(), o.originalOverride(), o.since());
            sb.append(JSON.writeValueAsString(e)).append('\n');
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
