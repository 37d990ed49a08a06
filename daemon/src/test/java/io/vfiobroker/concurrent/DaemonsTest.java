package io.vfiobroker.concurrent;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

class DaemonsTest {

    @Test
    void threadsAreDaemonsWithTheirNames() throws InterruptedException {
        Thread t = Daemons.start("one", () -> { });
        Daemons.join(t, Duration.ofSeconds(5));
        assertThat(t.isDaemon()).isTrue();
        assertThat(t.getName()).isEqualTo("one");
        assertThat(t.isAlive()).isFalse();
        var numbered = Daemons.numbered("w");
        assertThat(List.of(numbered.newThread(() -> { }).getName(), numbered.newThread(() -> { }).getName())).containsExactly("w-1", "w-2");
        assertThat(Daemons.named("n").newThread(() -> { }).isDaemon()).isTrue();
    }

    @Test
    void stopLetsQueuedTasksFinish() {
        ExecutorService pool = Executors.newSingleThreadExecutor(Daemons.named("pool"));
        CountDownLatch ran = new CountDownLatch(2);
        pool.execute(ran::countDown);
        pool.execute(ran::countDown);
        Daemons.stop(pool, Duration.ofSeconds(5));
        assertThat(pool.isTerminated()).isTrue();
        assertThat(ran.getCount()).isZero();
    }

    @Test
    void anInterruptDuringAWaitIsKept() {
        Thread sleeper = Daemons.start("sleeper", () -> {
            try {
                Thread.sleep(10_000);
            } catch (InterruptedException ignored) {
                // ends the thread
            }
        });
        Thread.currentThread().interrupt();
        Daemons.join(sleeper, Duration.ofSeconds(5));
        assertThat(Thread.interrupted()).isTrue();
        sleeper.interrupt();
    }

    @Test
    void aGuardedPeriodicTaskKeepsRunningAfterAFailure() throws InterruptedException {
        List<String> failures = new ArrayList<>();
        CountDownLatch three = new CountDownLatch(3);
        var timer = Daemons.scheduler("timer");
        timer.scheduleWithFixedDelay(Daemons.guarded(() -> {
            three.countDown();
            throw new IllegalStateException("boom");
        }, e -> {
            synchronized (failures) {
                failures.add(e.getMessage());
            }
        }), 0, 1, TimeUnit.MILLISECONDS);
        assertThat(three.await(5, TimeUnit.SECONDS)).isTrue();
        timer.shutdownNow();
        synchronized (failures) {
            assertThat(failures).hasSizeGreaterThanOrEqualTo(2).allMatch("boom"::equals);
        }
    }
}
