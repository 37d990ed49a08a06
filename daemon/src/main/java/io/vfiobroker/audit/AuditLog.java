package io.vfiobroker.audit;

import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * The audit trail: who got which device, under which rule, with which marks, and how it ended. Append-only
 * JSON lines, separate from the binding journal (which is for recovery and gets compacted; this never is).
 *
 * <p>Bounded, because anyone may cause records: the file rotates by size ({@code audit.jsonl}, {@code audit.jsonl.1},
 * ... at most {@code maxFiles} files), and one uid's repeated refusals ({@code *-refused}) beyond {@code refusalBurst}
 * per {@code refusalWindow} become one {@code refusals-coalesced} record with their count, first and last time.
 * Reads go backwards from the end in blocks; nothing reads a whole file.
 */
public final class AuditLog {

    public record Record(long seq, String time, String event, Map<String, Object> fields) {
    }

    /**
     * @param maxFileBytes  a file rotates before it would grow past this
     * @param maxFiles      files kept, the current one included (total size at most about maxFiles x maxFileBytes)
     * @param refusalBurst  refusals of one event and uid written as they come in each window; the rest are counted
     * @param refusalWindow the window
     * @param syncInterval  zero: {@link #sync()} returns once the records are on disk; else they are fsynced within this
     */
    public record Settings(long maxFileBytes, int maxFiles, int refusalBurst, Duration refusalWindow, Duration syncInterval) {
        public static final Settings DEFAULTS = new Settings(16L << 20, 5, 20, Duration.ofSeconds(10));

        public Settings {
            if (maxFileBytes < 1024 || maxFiles < 1 || refusalBurst < 0 || refusalWindow.isNegative() || refusalWindow.isZero()
                    || syncInterval.isNegative() || syncInterval.compareTo(Duration.ofSeconds(10)) > 0) {
                throw new IllegalArgumentException("audit settings: max file size at least 1 KiB, at least one file, a positive window, "
                        + "a sync interval from 0 to 10s (was " + syncInterval + ")");
            }
        }

        public Settings(long maxFileBytes, int maxFiles, int refusalBurst, Duration refusalWindow) {
            this(maxFileBytes, maxFiles, refusalBurst, refusalWindow, Duration.ZERO);
        }
    }

    public static final String COALESCED = "refusals-coalesced";
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** One uid's refusals of one kind in the current window. */
    private static final class Window {
        final String event;
        final String uid;
        Instant start;
        int written;
        long suppressed;
        Instant first;
        Instant last;

        Window(String event, String uid, Instant start) {
            this.event = event;
            this.uid = uid;
            this.start = start;
        }
    }

    private final Path file;
    private final Settings settings;
    private final Clock clock;
    private final Map<String, Window> windows = new HashMap<>();
    private final AtomicLong bytesRead = new AtomicLong();
    private final AuditReader reader = new AuditReader(bytesRead);
    private FileChannel out;
    private long size;
    private long seq;
    private Instant nextSweep = Instant.MIN;
    private final Object syncLock = new Object();
    private volatile long synced;
    private final DeferredSync deferred;

    public AuditLog(Path stateDir) {
        this(stateDir, Settings.DEFAULTS, Clock.systemUTC());
    }

    public AuditLog(Path stateDir, Settings settings) {
        this(stateDir, settings, Clock.systemUTC());
    }

    public AuditLog(Path stateDir, Settings settings, Clock clock) {
        try {
            Files.createDirectories(stateDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + stateDir + ": " + e.getMessage(), e);
        }
        this.file = stateDir.resolve("audit.jsonl");
        this.settings = settings;
        this.clock = clock;
        try {
            this.size = Files.exists(file) ? Files.size(file) : 0;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read audit log " + file + ": " + e.getMessage(), e);
        }
        // The sequence goes on from the newest record: found from the tail, not by reading everything.
        List<Record> last = newest(0, 1, r -> true);
        this.seq = last.isEmpty() ? 0 : last.get(0).seq();
        this.synced = seq;
        this.deferred = settings.syncInterval().isZero() ? null : new DeferredSync(this::syncNow, settings.syncInterval());
    }

    public Path file() {
        return file;
    }

    /** The files kept, newest first: {@code audit.jsonl}, {@code audit.jsonl.1}, ... */
    public List<Path> files() {
        List<Path> all = new ArrayList<>();
        for (int i = 0; i < settings.maxFiles(); i++) {
            Path p = rotated(i);
            if (Files.exists(p)) all.add(p);
        }
        return all;
    }

    private Path rotated(int i) {
        return i == 0 ? file : file.resolveSibling(file.getFileName() + "." + i);
    }

    /** Bytes the readers have read from the files so far (to show a page does not read a whole file). */
    public long bytesRead() {
        return bytesRead.get();
    }

    /** Appends one record and waits until it is on disk; {@code kv} alternates keys and values. */
    public void record(String event, Object... kv) {
        append(event, kv);
        sync();
    }

    /**
     * Appends one record without waiting for the disk: for callers holding a lock, who call {@link #sync()} once
     * they have let go of it and before they answer. Concurrent callers then share one fsync.
     */
    public synchronized void append(String event, Object... kv) {
        Map<String, Object> fields = new LinkedHashMap<>();
        for (int i = 0; i + 1 < kv.length; i += 2) fields.put(String.valueOf(kv[i]), kv[i + 1] == null ? null : String.valueOf(kv[i + 1]));
        Instant now = clock.instant();
        sweep(now);
        Object uid = fields.get("uid");
        if (event.endsWith("-refused") && uid != null) {
            String key = event + " " + uid;
            Window w = windows.get(key);
            if (w != null && !now.isBefore(w.start.plus(settings.refusalWindow()))) {
                flush(w);
                w = null;
            }
            if (w == null) {
                w = new Window(event, uid.toString(), now);
                windows.put(key, w);
            }
            if (w.written >= settings.refusalBurst()) {
                if (w.suppressed++ == 0) w.first = now;
                w.last = now;
                return;
            }
            w.written++;
        }
        write(event, fields, now);
    }

    /** Writes the coalesced records of every window that has ended (and drops the windows). */
    private void sweep(Instant now) {
        if (now.isBefore(nextSweep) || windows.isEmpty()) return;
        nextSweep = now.plusSeconds(1);
        for (Iterator<Window> it = windows.values().iterator(); it.hasNext(); ) {
            Window w = it.next();
            if (now.isBefore(w.start.plus(settings.refusalWindow()))) continue;
            it.remove();
            flush(w);
        }
    }

    private void flush(Window w) {
        if (w.suppressed == 0) return;
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("uid", w.uid);
        f.put("coalesced", w.event);
        f.put("count", Long.toString(w.suppressed));
        f.put("first", w.first.toString());
        f.put("last", w.last.toString());
        w.suppressed = 0;
        write(COALESCED, f, clock.instant());
    }

    /** Writes the coalesced records still pending, window ended or not (at shutdown, and for tests). */
    public synchronized void flushCoalesced() {
        for (Window w : windows.values()) flush(w);
        windows.clear();
    }

    /** Writes what is pending and syncs: at shutdown. */
    public void close() {
        flushCoalesced();
        if (deferred != null) deferred.close();
        syncNow();
    }

    private void write(String event, Map<String, Object> fields, Instant now) {
        Record r = new Record(seq + 1, now.toString(), event, fields);
        try {
            byte[] line = (JSON.writeValueAsString(r) + "\n").getBytes(StandardCharsets.UTF_8);
            if (size > 0 && size + line.length > settings.maxFileBytes()) rotate();
            if (out == null) out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
            ByteBuffer b = ByteBuffer.wrap(line);
            while (b.hasRemaining()) out.write(b);
            size += line.length;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write audit log " + file + ": " + e.getMessage(), e);
        }
        seq++;
    }

    /** audit.jsonl becomes .1, .1 becomes .2, ...; the oldest beyond maxFiles goes. Everything written is synced first. */
    private void rotate() throws IOException {
        if (out != null) {
            out.force(false);
            out.close();
            out = null;
        }
        synced = Math.max(synced, seq);
        int n = settings.maxFiles();
        Files.deleteIfExists(rotated(n - 1));
        for (int i = n - 2; i >= 0; i--) {
            try {
                Files.move(rotated(i), rotated(i + 1), StandardCopyOption.REPLACE_EXISTING);
            } catch (NoSuchFileException absent) {
                // fewer files than the limit so far
            }
        }
        size = 0;
    }

    /** Every record appended so far reaches the disk: before this returns, or within the sync interval when one is set. */
    public void sync() {
        if (deferred != null) deferred.request();
        else syncNow();
    }

    /** Returns once every record appended so far is on disk; one fsync covers all the callers waiting for it. */
    private void syncNow() {
        long target;
        synchronized (this) {
            target = seq;
        }
        if (target <= synced) return;
        synchronized (syncLock) {
            while (target > synced) { // else another caller's fsync, or a rotation, covered ours
                long upTo;
                FileChannel ch;
                synchronized (this) {
                    upTo = seq;
                    ch = out;
                }
                if (ch == null) return;
                try {
                    ch.force(false);
                    synced = Math.max(synced, upTo);
                } catch (ClosedChannelException rotated) {
                    // rotation synced the file before closing it; a record after that is in the new one
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot sync audit log " + file + ": " + e.getMessage(), e);
                }
            }
        }
    }

    /** Every record in the files kept, oldest first. Reads everything: for tools and tests, not for serving. */
    public List<Record> readAll() {
        List<Record> all = newest(0, Integer.MAX_VALUE, r -> true);
        Collections.reverse(all);
        return all;
    }

    /** Page {@code page} (0 = newest) of {@code size} records, newest first. */
    public List<Record> page(int page, int size) {
        return page(page, size, r -> true);
    }

    /** Like {@link #page(int, int)} over the records {@code filter} accepts (e.g. one uid's own). */
    public List<Record> page(int page, int size, Predicate<Record> filter) {
        if (page < 0 || size < 1) return List.of();
        return newest((long) page * size, size, filter);
    }

    /**
     * Skips {@code skip} matching records from the newest, then returns up to {@code limit}, newest first. The
     * files are opened under the lock (a consistent set even if a rotation follows) and read outside it.
     */
    private List<Record> newest(long skip, int limit, Predicate<Record> filter) {
        List<FileChannel> open = new ArrayList<>();
        List<Long> ends = new ArrayList<>();
        try {
            synchronized (this) {
                if (clock != null) sweep(clock.instant()); // ended windows are due, even if nobody appended since
                for (int i = 0; i < settings.maxFiles(); i++) {
                    try {
                        FileChannel ch = FileChannel.open(rotated(i), StandardOpenOption.READ);
                        open.add(ch);
                        ends.add(ch.size());
                    } catch (NoSuchFileException absent) {
                        if (i > 0) break;
                    }
                }
            }
            return reader.newest(open, ends, skip, limit, filter);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read audit log " + file + ": " + e.getMessage(), e);
        } finally {
            for (FileChannel ch : open) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // read-only
                }
            }
        }
    }
}
