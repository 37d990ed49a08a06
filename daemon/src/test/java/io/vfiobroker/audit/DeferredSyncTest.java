package io.vfiobroker.audit;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DeferredSyncTest {

    @Test
    void requestsWithinOneIntervalShareOneFsync() throws Exception {
        AtomicInteger forces = new AtomicInteger();
        try (DeferredSync sync = new DeferredSync(forces::incrementAndGet, Duration.ofMillis(200))) {
            for (int i = 0; i < 50; i++) sync.request();
            assertThat(forces.get()).as("nobody waited for the disk").isZero();
            within5s(() -> forces.get() == 1);
            Thread.sleep(400);
            assertThat(forces.get()).as("one fsync for the 50 requests, none without a request").isEqualTo(1);
            sync.request();
            within5s(() -> forces.get() == 2);
        }
    }

    @Test
    void aFailedFsyncIsThrownToTheNextCaller() {
        AtomicInteger calls = new AtomicInteger();
        try (DeferredSync sync = new DeferredSync(() -> {
            calls.incrementAndGet();
            throw new UncheckedIOException("cannot sync audit log: EIO", new IOException("EIO"));
        }, Duration.ofMillis(10))) {
            sync.request();
            within5s(() -> {
                try {
                    sync.request();
                    return false;
                } catch (UncheckedIOException e) {
                    assertThat(e).hasMessageContaining("EIO");
                    return true;
                }
            });
            int before = calls.get();
            sync.request(); // reported once; the next request tries the disk again
            within5s(() -> calls.get() > before);
        }
    }

    @Test
    void theLogAnswersBeforeTheDiskAndClosesSynced(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        AuditLog audit = new AuditLog(dir, new AuditLog.Settings(1 << 20, 2, 20, Duration.ofSeconds(10), Duration.ofSeconds(10)));
        audit.record("lease-granted", "uid", 1000);
        assertThat(Files.readString(dir.resolve("audit.jsonl"))).as("written at once: a crash of the daemon loses nothing")
                .contains("lease-granted");
        audit.close();
        assertThat(audit.readAll()).extracting(AuditLog.Record::event).containsExactly("lease-granted");
    }

    @Test
    void anIntervalOutOfRangeIsRefusedByName() {
        assertThatThrownBy(() -> new AuditLog.Settings(1 << 20, 2, 20, Duration.ofSeconds(10), Duration.ofMinutes(1)))
                .hasMessageContaining("sync interval").hasMessageContaining("PT1M");
    }

    private static void within5s(BooleanSupplier done) {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("not within 5 s");
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }
}
