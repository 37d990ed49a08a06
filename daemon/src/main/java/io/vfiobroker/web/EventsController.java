package io.vfiobroker.web;

import io.vfiobroker.events.BrokerEvent;
import io.vfiobroker.events.EventBus;
import io.vfiobroker.events.Published;
import jakarta.servlet.http.HttpServletRequest;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

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
    private static final AtomicInteger THREADS = new AtomicInteger();
    private static final ExecutorService WRITERS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "sse-" + THREADS.incrementAndGet());
        t.setDaemon(true);
        return t;
    });
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final EventBus bus;

    public EventsController(EventBus bus) {
        this.bus = bus;
    }

    /** @param kinds comma-separated kinds to receive; empty = all */
    @GetMapping(path = "/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    public SseEmitter events(@RequestParam(defaultValue = "") String kinds, HttpServletRequest req) throws IOException {
        Set<String> wanted = kinds.isBlank() ? Set.of() : Set.of(kinds.split(","));
        WebCaller caller = WebCaller.of(req);
        EventBus.Subscription sub;
        try {
            sub = bus.subscribe("sse", p -> (wanted.isEmpty() || wanted.contains(p.event().kind())) && visible(caller, p.event()));
        } catch (EventBus.TooManySubscribers e) {
            throw new ResponseStatusException(HttpStatus.SERVICE_UNAVAILABLE, e.getMessage());
        }
        SseEmitter emitter = new SseEmitter(0L); // no timeout: the stream lives as long as the client
        emitter.onCompletion(sub::close);
        emitter.onTimeout(sub::close);
        emitter.onError(e -> sub.close());
        // A comment first, so the response (and EventSource's open) happens before the first event.
        emitter.send(SseEmitter.event().comment("vfio-broker events; seq " + bus.lastSeq()));
        WRITERS.execute(() -> pump(sub, emitter));
        return emitter;
    }

    /** Non-admins see the inventory's and the policy's events, and only their own leases' and memlock's. */
    static boolean visible(WebCaller c, BrokerEvent e) {
        if (c.admin()) return true;
        if (e instanceof BrokerEvent.LeaseChanged l) return l.lease().holder().uid() == c.uid();
        if (e instanceof BrokerEvent.MemlockThreshold m) return m.uid() == c.uid();
        return true;
    }

    private static void pump(EventBus.Subscription sub, SseEmitter emitter) {
        long idleSince = System.nanoTime();
        try (sub) {
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
                String data = JSON.writeValueAsString(p.json());
                if (p.event() instanceof BrokerEvent.Dropped) {
                    emitter.send(SseEmitter.event().id(Long.toString(p.seq())).data(data));
                    break;
                }
                emitter.send(SseEmitter.event().name(p.event().kind()).id(Long.toString(p.seq())).data(data));
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
