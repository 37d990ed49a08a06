package io.vfiobroker.events;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/** An event as published: numbered in publication order, stamped with the time. */
public record Published(long seq, Instant time, BrokerEvent event) {

    /** The JSON object SSE sends: seq, time, kind, type, then the event's own fields. */
    public Map<String, Object> json() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("seq", seq);
        m.put("time", time.toString());
        m.put("kind", event.kind());
        m.put("type", event.type());
        m.putAll(event.fields());
        return m;
    }
}
