package io.vfiobroker.audit;

import io.vfiobroker.concurrent.Daemons;

import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Group commit in time: a request makes the records written so far durable within {@code interval}, by one fsync on a
 * thread of its own, instead of the caller waiting for it. What is written is in the page cache at once, so a crash of
 * the daemon loses nothing; only the kernel or the power failing within the interval can (auditd's incremental_async).
 * A failed fsync is reported to the next caller, so a broken disk still refuses work.
 */
final class DeferredSync implements AutoCloseable {

    private final Runnable force;
    private final long intervalNanos;
    private final ScheduledExecutorService thread = Daemons.scheduler("audit-sync");
    private final AtomicBoolean pending = new AtomicBoolean();
    private volatile UncheckedIOException failed;

    DeferredSync(Runnable force, Duration interval) {
        this.force = force;
        this.intervalNanos = interval.toNanos();
    }

    /** Returns at once; an fsync within the interval covers every record written before this call. */
    void request() {
        UncheckedIOException f = failed;
        if (f != null) {
            failed = null;
            throw f;
        }
        if (pending.compareAndSet(false, true)) thread.schedule(this::run, intervalNanos, TimeUnit.NANOSECONDS);
    }

    private void run() {
        pending.set(false); // a record written from here on asks for the next fsync
        try {
            force.run();
        } catch (UncheckedIOException e) {
            failed = e;
        }
    }

    /** Stops the thread (a pending fsync still runs); the owner forces what is left after that itself. */
    @Override
    public void close() {
        Daemons.stop(thread, Duration.ofSeconds(15));
    }
}
