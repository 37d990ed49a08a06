package io.vfiobroker.web;

import io.vfiobroker.events.BrokerEvent;
import io.vfiobroker.events.EventBus;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The daemon on the demo host: SSE for the console, the accounting endpoint, and the Prometheus scrape. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class EventsSseTest {

    static final Path DIR;

    static {
        try {
            DIR = Files.createTempDirectory(Path.of("/tmp"), "vb-sse-");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @DynamicPropertySource
    static void props(DynamicPropertyRegistry r) throws Exception {
        Files.writeString(DIR.resolve("policy.yaml"), "version: 1\nrules: []\n");
        r.add("vfio-broker.demo", () -> "true");
        r.add("vfio-broker.state-dir", () -> DIR.resolve("state").toString());
        r.add("vfio-broker.run-dir", () -> DIR.resolve("run").toString());
        r.add("vfio-broker.policy-file", () -> DIR.resolve("policy.yaml").toString());
        r.add("vfio-broker.policy-watch", () -> "false");
        r.add("vfio-broker.policy-sighup", () -> "false");
    }

    @LocalServerPort
    int port;

    @Autowired
    EventBus bus;

    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    final JsonMapper json = JsonMapper.builder().build();

    private HttpResponse<String> send(String method, String path) throws Exception {
        return send(method, path, "");
    }

    private HttpResponse<String> send(String method, String path, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).method(method, HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
    }

    /** One SSE event: its name (null when unnamed), id and data. */
    record Sse(String name, String id, String data) {
    }

    private static Sse read(BufferedReader r) throws Exception {
        String name = null, id = null;
        StringBuilder data = new StringBuilder();
        for (String line; (line = r.readLine()) != null; ) {
            if (line.isEmpty()) {
                if (data.length() > 0) return new Sse(name, id, data.toString());
                name = id = null;
                continue;
            }
            if (line.startsWith("event:")) name = line.substring(6).strip();
            else if (line.startsWith("id:")) id = line.substring(3).strip();
            else if (line.startsWith("data:")) data.append(line.substring(5).strip());
        }
        return null;
    }

    @Test
    void theConsoleGetsNamedEventsWithJsonDataAsTheDaemonChanges() throws Exception {
        HttpResponse<InputStream> stream = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/events"))
                .header("Accept", "text/event-stream").build(), HttpResponse.BodyHandlers.ofInputStream());
        assertThat(stream.statusCode()).isEqualTo(200);
        assertThat(stream.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
        BufferedReader r = new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8));
        try {
            assertThat(send("POST", "/api/v1/policy/reload").statusCode()).isEqualTo(200);
            Sse policy = read(r);
            assertThat(policy.name()).isEqualTo("policy");
            JsonNode d = json.readTree(policy.data());
            assertThat(d.get("kind").asString()).isEqualTo("policy");
            assertThat(d.get("type").asString()).isEqualTo("policy-loaded");
            assertThat(d.get("state").asString()).isEqualTo("LOADED");
            assertThat(Long.parseLong(policy.id())).isEqualTo(d.get("seq").asLong());

            // A bind through REST: the device event names the address, the binding event the group.
            assertThat(send("POST", "/api/v1/bindings", "{\"address\":\"0000:07:02.0\",\"dryRun\":false}").statusCode()).isEqualTo(200);
            List<Sse> got = new ArrayList<>();
            while (got.stream().noneMatch(e -> "binding".equals(e.name()))) got.add(read(r));
            assertThat(got).anySatisfy(e -> {
                assertThat(e.name()).isEqualTo("device");
                JsonNode x = json.readTree(e.data());
                assertThat(x.get("type").asString()).isEqualTo("driver-bound");
                assertThat(x.get("address").asString()).isEqualTo("0000:07:02.0");
                assertThat(x.get("driver").asString()).isEqualTo("vfio-pci");
            });
            JsonNode b = json.readTree(got.get(got.size() - 1).data());
            assertThat(b.get("type").asString()).isEqualTo("bind");
            assertThat(b.get("ok").asBoolean()).isTrue();
        } finally {
            stream.body().close();
        }
    }

    @Test
    void aBurstLongerThanOneWriteArrivesWholeAndInOrder() throws Exception {
        HttpResponse<InputStream> stream = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/events?kinds=device"))
                .header("Accept", "text/event-stream").build(), HttpResponse.BodyHandlers.ofInputStream());
        BufferedReader r = new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8));
        try {
            // Published faster than the stream writes them, so they queue and leave in batches (at most 64 per write).
            List<Long> published = new ArrayList<>();
            for (int i = 0; i < 150; i++) {
                published.add(bus.publish(new BrokerEvent.DeviceChanged("device-changed", "0000:7f:00." + (i % 8), "burst-" + i, -1, null, "test",
                        null, null, -1, List.of())).seq());
            }
            for (int i = 0; i < published.size(); i++) {
                Sse e = read(r);
                assertThat(e.name()).isEqualTo("device");
                assertThat(Long.parseLong(e.id())).as("event %d of the burst", i).isEqualTo(published.get(i));
                assertThat(json.readTree(e.data()).get("driver").asString()).isEqualTo("burst-" + i);
            }
        } finally {
            stream.body().close();
        }
    }

    @Test
    void accountingAndPrometheusAnswer() throws Exception {
        HttpResponse<String> acc = send("GET", "/api/v1/accounting");
        assertThat(acc.statusCode()).isEqualTo(200);
        JsonNode a = json.readTree(acc.body());
        assertThat(a.get("leases").isArray()).isTrue();
        assertThat(a.get("principals").isArray()).isTrue();
        assertThat(a.get("host").get("leases").asInt()).isZero();

        HttpResponse<String> prom = send("GET", "/actuator/prometheus");
        assertThat(prom.statusCode()).isEqualTo(200);
        List<String> samples = prom.body().lines().filter(l -> !l.startsWith("#")).toList();
        for (String series : List.of("vfio_broker_devices{state=\"vfio\"}", "vfio_broker_devices{state=\"host_driver\"}",
                "vfio_broker_devices{state=\"none\"}", "vfio_broker_leases_active", "vfio_broker_memlock_host_used_bytes",
                "vfio_broker_event_watchers_dropped_total", "vfio_broker_events_dropped_total", "vfio_broker_event_watchers")) {
            assertThat(samples).as(series).anySatisfy(l -> assertThat(l).startsWith(series + " "));
        }
        double hostDriver = samples.stream().filter(l -> l.startsWith("vfio_broker_devices{state=\"host_driver\"}"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).findFirst().orElseThrow();
        assertThat(hostDriver).isGreaterThan(5);
    }
}
