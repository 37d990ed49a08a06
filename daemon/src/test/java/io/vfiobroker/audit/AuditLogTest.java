package io.vfiobroker.audit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class AuditLogTest {

    @TempDir
    Path dir;

    /** A clock the test moves. */
    static final class TestClock extends Clock {
        Instant now = Instant.parse("2030-01-01T00:00:00Z");

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    @Test
    void aHundredThousandRefusalsFromOneUidStayWithinTheFileCountAndSizeAndAreCoalesced() throws IOException {
        TestClock clock = new TestClock();
        Instant t0 = clock.now;
        AuditLog.Settings s = new AuditLog.Settings(8192, 3, 20, Duration.ofSeconds(10));
        AuditLog audit = new AuditLog(dir, s, clock);
        for (int i = 0; i < 100_000; i++) {
            clock.now = clock.now.plusMillis(1);
            audit.append("redeem-refused", "uid", 65534, "pid", 4242, "reason", "unknown, already used or expired ticket");
        }
        audit.sync();
        clock.now = clock.now.plusSeconds(1);
        audit.append("redeem-refused", "uid", 1000, "pid", 77, "reason", "unknown, already used or expired ticket");
        audit.flushCoalesced();

        assertThat(audit.files()).hasSizeBetween(2, 3); // it rotated, and kept no more than 3
        assertThat(dir.resolve("audit.jsonl.1")).exists();
        assertThat(dir.resolve("audit.jsonl.3")).doesNotExist();
        long total = 0;
        for (Path p : audit.files()) total += Files.size(p);
        assertThat(total).isLessThanOrEqualTo(3 * 8192);

        List<AuditLog.Record> kept = audit.readAll();
        for (int i = 1; i < kept.size(); i++) assertThat(kept.get(i).seq()).isEqualTo(kept.get(i - 1).seq() + 1);
        List<AuditLog.Record> coalesced = kept.stream().filter(r -> r.event().equals(AuditLog.COALESCED)).toList();
        assertThat(coalesced).isNotEmpty();
        // Each 10 s window of 10 000 refusals: 20 written as they came, 9 980 in one record. The last window is the
        // tenth: refusals 90 001 to 100 000, at t0 + 90.021 s to t0 + 100 s.
        assertThat(coalesced).allSatisfy(r -> {
            assertThat(r.fields()).containsEntry("uid", "65534").containsEntry("coalesced", "redeem-refused").containsEntry("count", "9980");
            assertThat(Duration.between(Instant.parse((String) r.fields().get("first")), Instant.parse((String) r.fields().get("last"))))
                    .isEqualTo(Duration.ofMillis(9979));
        });
        AuditLog.Record last = coalesced.get(coalesced.size() - 1);
        assertThat(last.fields()).containsEntry("first", t0.plusMillis(90_021).toString()).containsEntry("last", t0.plusMillis(100_000).toString());
        // Another uid's refusal is its own record, not folded into the flood.
        assertThat(kept).anySatisfy(r -> {
            assertThat(r.event()).isEqualTo("redeem-refused");
            assertThat(r.fields()).containsEntry("uid", "1000");
        });
        long plain = kept.stream().filter(r -> r.event().equals("redeem-refused") && "65534".equals(r.fields().get("uid"))).count();
        assertThat(plain).isLessThan(kept.size()); // most of the flood is not there one record each
    }

    @Test
    void pagesFromTheEndAreWhatTheWholeFileReadGaveForASmallLog() {
        AuditLog audit = new AuditLog(dir);
        for (int i = 0; i < 23; i++) audit.record("lease-granted", "lease", "l" + i, "uid", 1000);
        List<AuditLog.Record> all = audit.readAll();
        assertThat(all).hasSize(23);
        for (int page = 0; page < 4; page++) {
            // The old page(): newest first, from the list of every record.
            List<AuditLog.Record> expected = new ArrayList<>();
            int from = all.size() - 1 - page * 10;
            for (int i = from; i >= 0 && i > from - 10; i--) expected.add(all.get(i));
            assertThat(audit.page(page, 10)).isEqualTo(expected);
        }
        assertThat(audit.page(0, 10).get(0).fields()).containsEntry("lease", "l22");
        assertThat(audit.page(2, 10)).hasSize(3);
        assertThat(audit.page(0, 5, r -> r.fields().get("lease").equals("l3"))).singleElement()
                .satisfies(r -> assertThat(r.seq()).isEqualTo(4));
        // A restart goes on with the sequence.
        AuditLog again = new AuditLog(dir);
        again.record("lease-ended", "lease", "l22");
        assertThat(again.page(0, 1).get(0).seq()).isEqualTo(24);
    }

    @Test
    void startingAndPagingALargeLogReadOnlyItsEnd() throws IOException {
        Path file = dir.resolve("audit.jsonl");
        int n = 60_000;
        try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (int i = 1; i <= n; i++) {
                w.write("{\"seq\":" + i + ",\"time\":\"2030-01-01T00:00:00Z\",\"event\":\"acquire-refused\",\"fields\":{\"uid\":\"" + (1000 + i % 7)
                        + "\",\"pid\":\"" + i + "\",\"reason\":\"no rule grants this device to this principal, padding padding padding\"}}\n");
            }
        }
        long size = Files.size(file);
        assertThat(size).isGreaterThan(8L << 20);

        AuditLog audit = new AuditLog(dir, new AuditLog.Settings(64L << 20, 5, 20, Duration.ofSeconds(10)));
        long atStart = audit.bytesRead();
        assertThat(atStart).as("bytes read to find the last sequence number").isLessThanOrEqualTo(64 * 1024);
        audit.record("lease-granted", "lease", "x", "uid", 0);

        List<AuditLog.Record> newest = audit.page(0, 50);
        assertThat(newest.get(0).seq()).isEqualTo(n + 1);
        assertThat(newest.get(49).seq()).isEqualTo(n - 48);
        List<AuditLog.Record> third = audit.page(2, 50);
        assertThat(third.get(0).seq()).isEqualTo(n + 1 - 100);
        assertThat(audit.bytesRead() - atStart).as("bytes read for two pages").isLessThanOrEqualTo(3 * 64 * 1024);
        assertThat(audit.bytesRead()).isLessThan(size / 20);
    }
}
