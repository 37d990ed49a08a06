package io.vfiobroker.audit;

import io.vfiobroker.audit.AuditLog.Record;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/** Reads audit records newest first: each file from its end backwards, a block at a time, so a page reads little. */
final class AuditReader {

    private static final int BLOCK = 64 * 1024;
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final AtomicLong bytesRead;

    AuditReader(AtomicLong bytesRead) {
        this.bytesRead = bytesRead;
    }

    /**
     * Skips {@code skip} matching records from the newest, then returns up to {@code limit}, newest first, from
     * {@code files} (newest first), each read up to its {@code ends} entry.
     */
    List<Record> newest(List<FileChannel> files, List<Long> ends, long skip, int limit, Predicate<Record> filter) throws IOException {
        List<Record> found = new ArrayList<>();
        long[] toSkip = {skip};
        for (int i = 0; i < files.size() && found.size() < limit; i++) {
            readBackwards(files.get(i), ends.get(i), line -> {
                Record r;
                try {
                    r = JSON.readValue(line, Record.class);
                } catch (RuntimeException torn) {
                    return true; // a torn last line from a crash is not a record
                }
                if (!filter.test(r)) return true;
                if (toSkip[0] > 0) {
                    toSkip[0]--;
                    return true;
                }
                found.add(r);
                return found.size() < limit;
            });
        }
        return found;
    }

    /** Hands the lines before {@code end} to {@code line}, last first, until it returns false. */
    private void readBackwards(FileChannel ch, long end, Predicate<String> line) throws IOException {
        long pos = end;
        byte[] carry = new byte[0]; // the start of a line whose beginning is in an earlier block
        while (pos > 0) {
            int n = (int) Math.min(BLOCK, pos);
            pos -= n;
            ByteBuffer bb = ByteBuffer.allocate(n);
            while (bb.hasRemaining()) {
                if (ch.read(bb, pos + bb.position()) < 0) break;
            }
            bytesRead.addAndGet(n);
            byte[] buf = Arrays.copyOf(bb.array(), n + carry.length);
            System.arraycopy(carry, 0, buf, n, carry.length);
            int lineEnd = buf.length;
            for (int i = buf.length - 1; i >= 0; i--) {
                if (buf[i] != '\n') continue;
                if (i + 1 < lineEnd && !line.test(new String(buf, i + 1, lineEnd - i - 1, StandardCharsets.UTF_8))) return;
                lineEnd = i;
            }
            carry = Arrays.copyOf(buf, lineEnd);
        }
        if (carry.length > 0) line.test(new String(carry, StandardCharsets.UTF_8));
    }
}
