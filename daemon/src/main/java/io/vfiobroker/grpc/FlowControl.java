package io.vfiobroker.grpc;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.vfiobroker.concurrent.Daemons;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.quota.QuotaExceededException;
import io.vfiobroker.quota.UidQuota;

import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A server stream written from its own thread, honouring the transport's flow control: the writer waits
 * until the client can take more instead of letting gRPC buffer without bound.
 */
final class FlowControl<T> {

    /** Most stream writer threads at once; a quota total above this is refused at the call, not queued. */
    static final int MAX_WRITERS = 256;
    /**
     * Stream writers: one per open watch, blocked mostly on their bus queue. A thread per stream keeps the writer
     * simple (it waits on the queue and on flow control in one place), and it is bounded: open streams are capped
     * per uid and in total by the stream quota (vfio-broker.quota.streams), and this pool never grows past
     * {@link #MAX_WRITERS}, so callers can't make the daemon start threads without limit.
     */
    static final ExecutorService WRITERS = new ThreadPoolExecutor(0, MAX_WRITERS, 60, TimeUnit.SECONDS, new SynchronousQueue<>(),
            Daemons.numbered("grpc-stream"));

    /** How long a client may read nothing before its stream is ended. */
    static final Duration STALL = Duration.ofSeconds(30);

    private final ServerCallStreamObserver<T> out;
    private final Object lock = new Object();
    private volatile boolean cancelled;

    FlowControl(StreamObserver<T> observer, Runnable onCancel) {
        this.out = (ServerCallStreamObserver<T>) observer;
        out.setOnReadyHandler(this::signal);
        out.setOnCancelHandler(() -> {
            cancelled = true;
            signal();
            onCancel.run();
        });
    }

    private void signal() {
        synchronized (lock) {
            lock.notifyAll();
        }
    }

    boolean cancelled() {
        return cancelled || out.isCancelled();
    }

    /** Waits until the client can take a message; false when it could not within {@link #STALL} or went away. */
    boolean awaitReady() throws InterruptedException {
        long deadline = System.nanoTime() + STALL.toNanos();
        synchronized (lock) {
            while (!out.isReady()) {
                if (cancelled()) return false;
                long left = deadline - System.nanoTime();
                if (left <= 0) return false;
                lock.wait(Math.max(1, Math.min(left / 1_000_000, 200)));
            }
        }
        return !cancelled();
    }

    /** Wakes a writer waiting in {@link #sleep} (new data). */
    void wake() {
        signal();
    }

    void sleep(Duration d) throws InterruptedException {
        synchronized (lock) {
            lock.wait(Math.max(1, d.toMillis()));
        }
    }

    ServerCallStreamObserver<T> out() {
        return out;
    }

    /** The caller's stream slot, or null once the observer has been told the caller is over its quota. */
    static UidQuota.Slot takeSlot(UidQuota streams, Caller c, boolean admin, StreamObserver<?> observer) {
        try {
            return streams.take(c.uid(), admin);
        } catch (QuotaExceededException e) {
            observer.onError(GrpcErrors.error(Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED", e.getMessage(), "uid",
                    Integer.toString(c.uid())));
            return null;
        }
    }

    /** A stream's writer loop, run on its own thread until the stream ends. */
    interface Writer<T> {
        void write(FlowControl<T> flow) throws InterruptedException;
    }

    /**
     * Runs a stream's writer on a writer thread. {@code release} (the caller's slot, its subscription) runs when the client
     * cancels, when the writer ends, or at once when every writer thread is busy (the stream then ends saying why).
     */
    static <T> FlowControl<T> start(StreamObserver<T> observer, Runnable release, Writer<T> writer) {
        FlowControl<T> flow = new FlowControl<>(observer, release);
        try {
            WRITERS.execute(() -> {
                try {
                    writer.write(flow);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (RuntimeException e) {
                    // The call was cancelled under us (onNext after cancel): nothing left to tell the client.
                } finally {
                    release.run();
                }
            });
        } catch (RejectedExecutionException e) {
            release.run();
            observer.onError(GrpcErrors.error(Status.Code.RESOURCE_EXHAUSTED, "TOO_MANY_WATCHERS", "all " + MAX_WRITERS
                    + " stream writers are busy"));
        }
        return flow;
    }
}
