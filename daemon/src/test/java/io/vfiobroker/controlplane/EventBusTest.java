package io.vfiobroker.controlplane;

import io.vfiobroker.events.BrokerEvent;
import io.vfiobroker.events.EventBus;
import io.vfiobroker.events.Published;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class EventBusTest {

    static BrokerEvent device(int i) {
        return new BrokerEvent.DeviceChanged("device-changed", String.format("0000:00:%02x.0", i % 32), null, -1, null, "uevent", "change", "", -1, List.of());
    }

    @Test
    void everySubscriberSeesEventsInPublicationOrderThroughItsFilter() throws Exception {
        EventBus bus = new EventBus(16, 4);
        EventBus.Subscription all = bus.subscribe("all", null);
        EventBus.Subscription policyOnly = bus.subscribe("policy", p -> p.event().kind().equals("policy"));
        for (int i = 0; i < 5; i++) bus.publish(device(i));
        List<Long> seqs = new ArrayList<>();
        for (Published p; (p = all.next(Duration.ZERO)) != null; ) seqs.add(p.seq());
        assertThat(seqs).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(policyOnly.next(Duration.ofMillis(10))).isNull();
        assertThat(policyOnly.ended()).isFalse();
    }

    @Test
    void aSlowSubscriberIsCutOffWithAFinalDroppedWhileOthersAndThePublisherCarryOn() throws Exception {
        EventBus bus = new EventBus(4, 4);
        EventBus.Subscription slow = bus.subscribe("slow", 4, null);
        EventBus.Subscription fast = bus.subscribe("fast", 100, null);
        long start = System.nanoTime();
        for (int i = 0; i < 50; i++) bus.publish(device(i));
        // Publishing 50 events into a full queue never waited for the reader.
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
        assertThat(bus.subscriberCount()).isEqualTo(1);
        assertThat(bus.droppedSubscribers()).isEqualTo(1);

        List<BrokerEvent> got = new ArrayList<>();
        for (Published p; (p = slow.next(Duration.ofMillis(10))) != null; ) got.add(p.event());
        assertThat(got).hasSize(5);
        assertThat(got.subList(0, 4)).allMatch(e -> e instanceof BrokerEvent.DeviceChanged);
        assertThat(got.get(4)).isInstanceOfSatisfying(BrokerEvent.Dropped.class, d -> {
            assertThat(d.lostFromSeq()).isEqualTo(5);
            assertThat(d.reason()).contains("overflowed");
        });
        assertThat(slow.ended()).isTrue();
        assertThat(fast.queued()).isEqualTo(50);
    }

    @Test
    void aWaitingReaderWakesForTheNextEvent() throws Exception {
        EventBus bus = new EventBus();
        EventBus.Subscription s = bus.subscribe("w", null);
        CountDownLatch got = new CountDownLatch(1);
        Thread t = new Thread(() -> {
            try {
                if (s.next(Duration.ofSeconds(10)) != null) got.countDown();
            } catch (InterruptedException ignored) {
            }
        });
        t.start();
        bus.publish(device(1));
        assertThat(got.await(5, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void watchersAreCappedAndClosingFreesASlot() {
        EventBus bus = new EventBus(8, 2);
        EventBus.Subscription a = bus.subscribe("a", null);
        bus.subscribe("b", null);
        assertThatThrownBy(() -> bus.subscribe("c", null)).isInstanceOf(EventBus.TooManySubscribers.class).hasMessageContaining("2 event watchers");
        a.close();
        assertThat(bus.subscribe("c", null)).isNotNull();
    }

    @Test
    void aFailingSinkDoesNotStopPublication() {
        EventBus bus = new EventBus();
        bus.addSink(p -> {
            throw new IllegalStateException("boom");
        });
        EventBus.Subscription s = bus.subscribe("s", null);
        bus.publish(device(1));
        assertThat(s.queued()).isEqualTo(1);
    }
}
