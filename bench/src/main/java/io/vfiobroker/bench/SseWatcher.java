package io.vfiobroker.bench;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/** A console-like subscriber on the daemon's GET /api/v1/events, so the SSE path is loaded as in production; counts lease events. */
final class SseWatcher implements AutoCloseable {

    private final AtomicLong leaseEvents = new AtomicLong();
    private final CompletableFuture<HttpResponse<Stream<String>>> response;

    SseWatcher(BrokerProcess daemon) {
        response = HttpClient.newHttpClient().sendAsync(HttpRequest.newBuilder(daemon.http("/api/v1/events")).build(),
                HttpResponse.BodyHandlers.ofLines());
        Thread t = new Thread(() -> {
            try (Stream<String> lines = response.join().body()) {
                lines.filter(l -> l.equals("event:lease")).forEach(l -> leaseEvents.incrementAndGet());
            } catch (RuntimeException e) {
                // the stream ends with the daemon
            }
        }, "sse-watcher");
        t.setDaemon(true);
        t.start();
    }

    long leaseEvents() {
        return leaseEvents.get();
    }

    @Override
    public void close() {
        response.cancel(true);
    }
}
