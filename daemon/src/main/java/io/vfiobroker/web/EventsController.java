package io.vfiobroker.web;

import io.vfiobroker.concurrent.Daemons;
import io.vfiobroker.events.BrokerEvent;
import io.vfiobroker.events.EventBus;
import io.vfiobroker.events.Published;
import io.vfiobroker.quota.QuotaExceededException;
import io.vfiobroker.quota.Quotas;
import io.vfiobroker.quota.UidQuota;
import jakarta.servlet.http.HttpServletRequest;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.servlet.mvc.method.annotation.ResponseBodyEmitter;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * GET /api/v1/events: the event bus as server-sent events. Each event is named by its kind (device, binding,
 * lease, policy, accounting — the names the console listens for), has the bus sequence number as its id and
 * a JSON object as data: {seq, time, kind, type, ...fields}. A watcher that falls behind gets a last unnamed
 * message with type "dropped" and the stream ends; EventSource then reconnects and the console refetches.
 */
@RestController
@RequestMapping("/api/v1")
public class EventsController {

    private static final Duration HEARTBEAT = Duration.ofSeconds(15);
    private static final int MAX_BATCH = 64;
    /**
     * SSE writers, a thread per stream: SseEmitter.send blocks on the client's socket, so a shared pool would let one
     * slow client stall the others. Bounded: the stream quota (vfio-broker.quota.streams) caps open streams per uid and
     * in total, and the pool never grows past 256 (beyond that a request is refused, not queued).
     */
    private static final ExecutorService WRITERS = new ThreadPoolExecutor(0, 256, 60, TimeUnit.SECONDS, new SynchronousQueue<>(),
            Daemons.numbered("sse"));
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final EventBus bus;
    private final UidQuota streams;

    public EventsController(EventBus bus, Quotas quotas) {
        this.bus = bus;
        this.streams = quotas.streams();
    }

    /** @param kinds comma-separated kinds to receive; empty = all */
    @GetMapping(path = "/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    public SseEmitter events(@RequestParam(defaultValue = "") String kinds, HttpServletRequest req) throws IOException {
        Set<String> wanted = kinds.isBlank() ? Set.of() : Set.of(kinds.split(","));
        WebCaller caller = WebCaller.of(req);
        UidQuota.Slot slot;
        try {
            slot = streams.take(caller.uid(), caller.admin());
        } catch (QuotaExceededException e) {
            throw new ResponseStatusException(HttpStatus.TOO_MANY_REQUESTS, e.getMessage());
        }
        EventBus.Subscription sub;
        try {
            sub = bus.subscribe("sse", p -> (wanted.isEmpty() || wanted.contains(p.event().kind())) && visible(caller, p.event()));
        } catch (EventBus.TooManySubscribers e) {
            slot.close();
            throw new ResponseStatusException(HttpStatus.SERVICE_UNAVAILABLE, e.getMessage());
        }
        Runnable done = () -> {
            sub.close();
            slot.close();
        };
        SseEmitter emitter = new SseEmitter(0L); // no timeout: the stream lives as long as the client
        emitter.onCompletion(done);
        emitter.onTimeout(done);
        emitter.onError(e -> done.run());
        try {
            // A comment first, so the response (and EventSource's open) happens before the first event.
            emitter.send(SseEmitter.event().comment("vfio-broker events; seq " + bus.lastSeq()));
            WRITERS.execute(() -> pump(sub, slot, emitter));
        } catch (IOException | RuntimeException e) {
            done.run();
            throw e;
        }
        return emitter;
    }

    /** Non-admins see the inventory's and the policy's events, and only their own leases' and memlock's. */
    static boolean visible(WebCaller c, BrokerEvent e) {
        if (c.admin()) return true;
        if (e instanceof BrokerEvent.LeaseChanged l) return l.lease().holder().uid() == c.uid();
        if (e instanceof BrokerEvent.MemlockThreshold m) return m.uid() == c.uid();
        return true;
    }

    private static void pump(EventBus.Subscription sub, UidQuota.Slot slot, SseEmitter emitter) {
        long idleSince = System.nanoTime();
        try (slot; sub) {
            while (true) {
                Published p = sub.next(Duration.ofSeconds(1));
                if (p == null) {
                    if (sub.ended()) break;
                    if (System.nanoTime() - idleSince > HEARTBEAT.toNanos()) {
                        // Finds a vanished client (the write fails) and keeps proxies from timing the stream out.
                        emitter.send(SseEmitter.event().comment("keep-alive"));
                        idleSince = System.nanoTime();
                    }
                    continue;
                }
                idleSince = System.nanoTime();
                // What is queued goes in one write and one flush: a lease cycle publishes four events at once.
                Set<ResponseBodyEmitter.DataWithMediaType> batch = new LinkedHashSet<>();
                boolean dropped = false;
                for (int n = 1; p != null; n++) {
                    String data = JSON.writeValueAsString(p.json());
                    dropped = p.event() instanceof BrokerEvent.Dropped;
                    batch.addAll((dropped ? SseEmitter.event() : SseEmitter.event().name(p.event().kind())).id(Long.toString(p.seq()))
                            .data(data).build());
                    p = dropped || n == MAX_BATCH || sub.queued() == 0 ? null : sub.next(Duration.ZERO);
                }
                emitter.send(batch);
                if (dropped) break;
            }
            emitter.complete();
        } catch (IOException | IllegalStateException e) {
            // the client went away
            emitter.completeWithError(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
