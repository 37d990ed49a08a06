package io.vfiobroker.audit;

import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The audit trail: who got which device, under which rule, with which marks, and how it ended. Append-only
 * JSON lines, separate from the binding journal (which is for recovery and gets compacted; this never is).
 */
public final class AuditLog {

    public record Record(long seq, String time, String event, Map<String, Object> fields) {
    }

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private final Path file;
    private FileChannel out;
    private long seq;
    private final Object syncLock = new Object();
    private volatile long synced;

    public AuditLog(Path stateDir) {
        try {
            Files.createDirectories(stateDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + stateDir + ": " + e.getMessage(), e);
        }
        this.file = stateDir.resolve("audit.jsonl");
        this.seq = readAll().size();
        this.synced = seq;
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
        Record r = new Record(seq + 1, Instant.now().toString(), event, fields);
        try {
            if (out == null) out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
            ByteBuffer line = ByteBuffer.wrap((JSON.writeValueAsString(r) + "\n").getBytes(StandardCharsets.UTF_8));
            while (line.hasRemaining()) out.write(line);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write audit log " + file + ": " + e.getMessage(), e);
        }
        seq++;
    }

    /** Returns once every record appended so far is on disk; one fsync covers all the callers waiting for it. */
    public void sync() {
        long target;
        FileChannel ch;
        synchronized (this) {
            target = seq;
            ch = out;
        }
        if (target <= synced || ch == null) return;
        synchronized (syncLock) {
            if (target <= synced) return; // another caller's fsync covered ours
            long upTo;
            synchronized (this) {
                upTo = seq;
            }
            try {
                ch.force(false);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot sync audit log " + file + ": " + e.getMessage(), e);
            }
            synced = upTo;
        }
    }

    public synchronized List<Record> readAll() {
        List<Record> out = new ArrayList<>();
        if (!Files.exists(file)) return out;
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                try {
                    out.add(JSON.readValue(line, Record.class));
                } catch (RuntimeException torn) {
                    // a torn last line from a crash is not a record
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read audit log " + file + ": " + e.getMessage(), e);
        }
        return out;
    }

    /** Page {@code page} (0 = newest) of {@code size} records, newest first. */
    public List<Record> page(int page, int size) {
        List<Record> all = readAll();
        List<Record> out = new ArrayList<>();
        int from = all.size() - 1 - page * size;
        for (int i = from; i >= 0 && i > from - size; i--) out.add(all.get(i));
        return out;
    }
}
