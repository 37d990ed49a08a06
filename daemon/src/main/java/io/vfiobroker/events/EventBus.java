package io.vfiobroker.events;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * In-process fan-out of {@link BrokerEvent}s. Publishing never blocks: each subscriber has a bounded queue,
 * and one that lets it overflow is cut off — it still reads what it had queued, then a final
 * {@link BrokerEvent.Dropped}, then nothing. A watcher that cannot keep up must re-read state anyway, so it is
 * told so instead of silently missing events or stalling the daemon.
 */
public final class EventBus {

    private static final Logger log = LoggerFactory.getLogger(EventBus.class);

    /** Refused when the subscriber cap is reached. */
    public static final class TooManySubscribers extends RuntimeException {
        TooManySubscribers(int max) {
            super("already " + max + " event watchers; close one or raise vfio-broker.events.max-watchers");
        }
    }

    private final int defaultCapacity;
    private final int maxSubscribers;
    private final List<Subscription> subscribers = new CopyOnWriteArrayList<>();
    private final List<Consumer<Published>> sinks = new CopyOnWriteArrayList<>();
    private final AtomicLong seq = new AtomicLong();
    private final AtomicLong droppedSubscribers = new AtomicLong();
    private final AtomicLong undelivered = new AtomicLong();

    public EventBus(int defaultCapacity, int maxSubscribers) {
        if (defaultCapacity < 1 || maxSubscribers < 1) throw new IllegalArgumentException("capacity and subscriber cap must be positive");
        this.defaultCapacity = defaultCapacity;
        this.maxSubscribers = maxSubscribers;
    }

    public EventBus() {
        this(1024, 64);
    }

    /** Numbers the event and offers it to every subscriber; synchronized so every queue sees one order. */
    public synchronized Published publish(BrokerEvent e) {
        Published p = new Published(seq.incrementAndGet(), Instant.now(), e);
        for (Subscription s : subscribers) s.offer(p);
        for (Consumer<Published> sink : sinks) {
            try {
                sink.accept(p);
            } catch (RuntimeException ex) {
                log.warn("event=event-sink-failed type={} error=\"{}\"", e.type(), ex.getMessage());
            }
        }
        return p;
    }

    /** A synchronous in-process consumer (metrics, audit): must be quick and never block. */
    public void addSink(Consumer<Published> sink) {
        sinks.add(sink);
    }

    public Subscription subscribe(String name, Predicate<Published> filter) {
        return subscribe(name, defaultCapacity, filter);
    }

    public synchronized Subscription subscribe(String name, int capacity, Predicate<Published> filter) {
        if (subscribers.size() >= maxSubscribers) throw new TooManySubscribers(maxSubscribers);
        Subscription s = new Subscription(name, capacity, filter);
        subscribers.add(s);
        log.info("event=watcher-subscribed name={} capacity={} watchers={}", name, capacity, subscribers.size());
        return s;
    }

    public int subscriberCount() {
        return subscribers.size();
    }

    /** Watchers cut off because their queue overflowed. */
    public long droppedSubscribers() {
        return droppedSubscribers.get();
    }

    /** Events that found a watcher's queue full (each cut one watcher off). */
    public long undeliveredEvents() {
        return undelivered.get();
    }

    public long lastSeq() {
        return seq.get();
    }

    /** One watcher's view of the bus. Read from one thread. */
    public final class Subscription implements AutoCloseable {
        private final String name;
        private final int capacity;
        private final Predicate<Published> filter;
        private final BlockingQueue<Published> queue;
        private volatile long droppedAt = -1;
        private volatile boolean finished;
        private volatile boolean closed;

        private Subscription(String name, int capacity, Predicate<Published> filter) {
            this.name = name;
            this.capacity = capacity;
            this.filter = filter == null ? p -> true : filter;
            this.queue = new ArrayBlockingQueue<>(capacity);
        }

        private void offer(Published p) {
            if (closed || droppedAt >= 0) return;
            boolean wanted;
            try {
                wanted = filter.test(p);
            } catch (RuntimeException e) {
                wanted = false;
            }
            if (!wanted) return;
            if (!queue.offer(p)) {
                droppedAt = p.seq();
                subscribers.remove(this);
                droppedSubscribers.incrementAndGet();
                undelivered.incrementAndGet();
                log.warn("event=watcher-dropped name={} capacity={} lost-from-seq={}", name, capacity, p.seq());
            }
        }

        /**
         * The next event, waiting at most {@code timeout}; null on timeout or once {@link #ended()}. After an
         * overflow the queued events come first, then one {@link BrokerEvent.Dropped}.
         */
        public Published next(Duration timeout) throws InterruptedException {
            if (finished || closed) return null;
            Published p = droppedAt >= 0 ? queue.poll() : queue.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
            if (p != null) return p;
            if (droppedAt >= 0) {
                finished = true;
                return new Published(droppedAt, Instant.now(), new BrokerEvent.Dropped("the watcher's queue of " + capacity
                        + " events overflowed: it read too slowly; re-read state and watch again", droppedAt));
            }
            return null;
        }

        /** True once the final Dropped was handed out, or after {@link #close()}. */
        public boolean ended() {
            return finished || closed;
        }

        public int queued() {
            return queue.size();
        }

        @Override
        public void close() {
            closed = true;
            if (subscribers.remove(this)) log.info("event=watcher-closed name={}", name);
            queue.clear();
        }
    }
}
