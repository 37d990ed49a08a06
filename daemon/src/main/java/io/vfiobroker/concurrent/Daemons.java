package io.vfiobroker.concurrent;

import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The daemon's background threads, started and stopped one way: all are daemon threads (none holds the JVM up at
 * exit), and their owners stop them in close() with a bounded wait that keeps an interrupt for the caller.
 */
public final class Daemons {

    private Daemons() {
    }

    /** Threads all named {@code name}. */
    public static ThreadFactory named(String name) {
        return r -> daemon(r, name);
    }

    /** Threads named {@code prefix-1}, {@code prefix-2}, ... */
    public static ThreadFactory numbered(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> daemon(r, prefix + "-" + n.incrementAndGet());
    }

    /** One thread for delayed and periodic work. */
    public static ScheduledExecutorService scheduler(String name) {
        return Executors.newSingleThreadScheduledExecutor(named(name));
    }

    /** A started thread running {@code body}. */
    public static Thread start(String name, Runnable body) {
        Thread t = daemon(body, name);
        t.start();
        return t;
    }

    /** Waits up to {@code wait} for {@code t} to end. */
    public static void join(Thread t, Duration wait) {
        try {
            t.join(wait.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Takes no new tasks and waits up to {@code wait} for the queued ones. */
    public static void stop(ExecutorService pool, Duration wait) {
        pool.shutdown();
        try {
            pool.awaitTermination(wait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** {@code task}, handing a failure to {@code failed}: an executor never runs a periodic task again once it threw. */
    public static Runnable guarded(Runnable task, Consumer<RuntimeException> failed) {
        return () -> {
            try {
                task.run();
            } catch (RuntimeException e) {
                failed.accept(e);
            }
        };
    }

    private static Thread daemon(Runnable body, String name) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        return t;
    }
}
