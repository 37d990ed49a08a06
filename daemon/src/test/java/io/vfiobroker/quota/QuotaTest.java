package io.vfiobroker.quota;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class QuotaTest {

    @Test
    void aUidGetsItsBurstThenTheRefillRateAndRootIsNeverLimited() {
        AtomicLong now = new AtomicLong();
        RateLimiter acquire = new RateLimiter("vfio-broker.quota.acquire", 2, 5, now::get);
        for (int i = 0; i < 5; i++) assertThat(acquire.tryAcquire(1000)).isTrue();
        assertThat(acquire.tryAcquire(1000)).isFalse();
        assertThat(acquire.tryAcquire(1001)).as("another uid has its own bucket").isTrue();
        for (int i = 0; i < 100; i++) assertThat(acquire.tryAcquire(0)).isTrue();
        now.addAndGet(500_000_000L); // half a second at 2/s: one token
        assertThat(acquire.tryAcquire(1000)).isTrue();
        assertThat(acquire.tryAcquire(1000)).isFalse();
        assertThatThrownBy(() -> acquire.acquire(1000)).isInstanceOf(QuotaExceededException.class)
                .hasMessageContaining("uid 1000").hasMessageContaining("vfio-broker.quota.acquire.per-second");
        now.addAndGet(60_000_000_000L);
        for (int i = 0; i < 5; i++) assertThat(acquire.tryAcquire(1000)).as("refilled to the burst, not beyond").isTrue();
        assertThat(acquire.tryAcquire(1000)).isFalse();
    }

    @Test
    void nonAdminsCannotTakeTheAdminReserveAndSlotsComeBackOnce() {
        UidQuota q = new UidQuota("event streams", "vfio-broker.quota.streams", 2, 4, 1);
        UidQuota.Slot a1 = q.take(1000, false);
        q.take(1000, false);
        assertThatThrownBy(() -> q.take(1000, false)).hasMessageContaining("uid 1000 already has 2 open event streams");
        q.take(1001, false);
        assertThatThrownBy(() -> q.take(1002, false)).hasMessageContaining("open to non-admin users are all in use").hasMessageContaining("uid 1002");
        q.take(0, true);
        assertThatThrownBy(() -> q.take(0, true)).hasMessageContaining("reserve is used up");
        a1.close();
        a1.close(); // twice: still one slot back
        assertThat(q.open(1000)).isEqualTo(1);
        assertThat(q.openTotal()).isEqualTo(3);
        q.take(1002, false);
        assertThatThrownBy(() -> q.take(1003, false)).isInstanceOf(QuotaExceededException.class);
    }
}
