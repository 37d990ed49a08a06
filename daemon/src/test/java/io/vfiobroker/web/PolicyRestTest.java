package io.vfiobroker.web;

import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The policy endpoints on the demo host (Intel, IR on), with a policy file in a temporary directory. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class PolicyRestTest {

    static final Path DIR;
    static final Path FILE;

    static {
        try {
            DIR = Files.createTempDirectory("policy-rest-");
            FILE = DIR.resolve("policy.yaml");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static final String GOOD = """
            version: 1
            rules:
              - name: edu
                action: allow
                devices: {vendorDevice: "1234:11e8"}
                principals: {uid: 1000}
            """;

    @DynamicPropertySource
    static void props(DynamicPropertyRegistry r) throws Exception {
        Files.writeString(FILE, GOOD);
        r.add("vfio-broker.demo", () -> "true");
        r.add("vfio-broker.state-dir", () -> DIR.resolve("state").toString());
        r.add("vfio-broker.policy-file", FILE::toString);
        r.add("vfio-broker.policy-watch", () -> "false"); // reloads in this test come only from the endpoint
        r.add("vfio-broker.policy-sighup", () -> "false");
    }

    @LocalServerPort
    int port;

    private final HttpClient http = HttpClient.newHttpClient();
    private final JsonMapper json = JsonMapper.builder().build();

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(String path, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void getShowsSourceStatusAndText_explainDecides_reloadRejectsABadFileKeepingTheOld() throws Exception {
        JsonNode p = json.readTree(get("/api/v1/policy").body());
        assertThat(p.get("source").asString()).isEqualTo(FILE.toString());
        assertThat(p.get("status").get("state").asString()).isEqualTo("LOADED");
        assertThat(p.get("text").asString()).isEqualTo(GOOD);

        // The demo host's edu device.
        HttpResponse<String> ok = post("/api/v1/policy/explain", "{\"uid\":1000,\"gid\":1000,\"address\":\"0000:06:00.0\"}");
        assertThat(ok.statusCode()).isEqualTo(200);
        JsonNode e = json.readTree(ok.body());
        assertThat(e.get("decision").get("allowed").asBoolean()).isTrue();
        assertThat(e.get("decision").get("rule").asString()).isEqualTo("edu");
        assertThat(e.get("interrupts").get("verdict").asString()).isEqualTo("supported");
        assertThat(e.get("chain").get(0).get("outcome").asString()).isEqualTo("decided");
        JsonNode no = json.readTree(post("/api/v1/policy/explain", "{\"uid\":1001,\"gid\":1001,\"address\":\"0000:06:00.0\"}").body());
        assertThat(no.get("decision").get("rule").asString()).isEqualTo("default-deny");

        Files.writeString(FILE, GOOD + "  - name: edu\n");
        HttpResponse<String> rejected = post("/api/v1/policy/reload", "");
        assertThat(rejected.statusCode()).isEqualTo(422);
        JsonNode st = json.readTree(rejected.body());
        assertThat(st.get("state").asString()).isEqualTo("REJECTED");
        assertThat(st.get("errors").get(0).get("line").asInt()).isEqualTo(7);
        assertThat(json.readTree(get("/api/v1/policy").body()).get("text").asString()).isEqualTo(GOOD);
        assertThat(json.readTree(post("/api/v1/policy/explain", "{\"uid\":1000,\"gid\":1000,\"address\":\"0000:06:00.0\"}").body())
                .get("decision").get("allowed").asBoolean()).isTrue();

        Files.delete(FILE);
        HttpResponse<String> missing = post("/api/v1/policy/reload", "");
        assertThat(missing.statusCode()).isEqualTo(200);
        assertThat(json.readTree(missing.body()).get("state").asString()).isEqualTo("MISSING");
        Files.writeString(FILE, GOOD);
        assertThat(json.readTree(post("/api/v1/policy/reload", "").body()).get("state").asString()).isEqualTo("LOADED");
    }

    @Test
    void explainRefusesBadInputInItsOwnWords() throws Exception {
        HttpResponse<String> r = post("/api/v1/policy/explain", "{\"uid\":\"abc\",\"gid\":1000,\"address\":\"0000:06:00.0\"}");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("invalid uid 'abc'");
        HttpResponse<String> a = post("/api/v1/policy/explain", "{\"uid\":1000,\"gid\":1000,\"address\":\"../../etc\"}");
        assertThat(a.statusCode()).isEqualTo(400);
        assertThat(a.body()).contains("invalid PCI address");
        assertThat(post("/api/v1/policy/explain", "{\"gid\":1000,\"address\":\"0000:06:00.0\"}").body()).contains("explain needs a uid");
    }
}
