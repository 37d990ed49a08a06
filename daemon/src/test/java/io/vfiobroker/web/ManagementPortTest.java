package io.vfiobroker.web;

import io.vfiobroker.controlplane.ControlPlane;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalManagementPort;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A separate management listener (the chart's pod-IP port): anyone on the pod network reaches it, so it serves
 * health probes to all, metrics only with the metrics bearer token, and nothing else.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ManagementPortTest {

    static final String TOKEN = "scrape-token-0123456789abcdef";
    static Path dir;

    @DynamicPropertySource
    static void props(DynamicPropertyRegistry r) throws Exception {
        dir = Files.createTempDirectory("vb-mgmt-");
        Files.writeString(dir.resolve("policy.yaml"), ControlPlane.POLICY);
        Files.writeString(dir.resolve("metrics-tokens"), "# scraper\n" + TOKEN + "\n");
        r.add("vfio-broker.demo", () -> "true");
        r.add("vfio-broker.state-dir", () -> dir.resolve("state").toString());
        r.add("vfio-broker.run-dir", () -> dir.resolve("run").toString());
        r.add("vfio-broker.policy-file", () -> dir.resolve("policy.yaml").toString());
        r.add("vfio-broker.policy-watch", () -> "false");
        r.add("vfio-broker.policy-sighup", () -> "false");
        r.add("management.server.port", () -> "0");
        r.add("management.server.address", () -> "127.0.0.1");
        r.add("vfio-broker.metrics.token-file", () -> dir.resolve("metrics-tokens").toString());
    }

    @LocalManagementPort
    int management;
    @LocalServerPort
    int api;

    final HttpClient http = HttpClient.newHttpClient();

    HttpResponse<String> send(String method, String path, String auth) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + management + path))
                .method(method, HttpRequest.BodyPublishers.noBody());
        if (auth != null) b.header("Authorization", auth);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void probesAnswerEveryone() throws Exception {
        assertThat(management).isNotEqualTo(api);
        for (String p : new String[]{"/actuator/health", "/actuator/health/liveness", "/actuator/health/readiness"}) {
            HttpResponse<String> r = send("GET", p, null);
            assertThat(r.statusCode()).as(p).isEqualTo(200);
            assertThat(r.body()).as(p).contains("\"status\"").doesNotContain("components");
        }
    }

    @Test
    void metricsNeedTheMetricsToken() throws Exception {
        HttpResponse<String> none = send("GET", "/actuator/prometheus", null);
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.body()).contains("vfio-broker.metrics.token-file").doesNotContain("vfio_broker_");
        assertThat(send("GET", "/actuator/prometheus", "Bearer not-the-token-0123456789").statusCode()).isEqualTo(401);
        HttpResponse<String> ok = send("GET", "/actuator/prometheus", "Bearer " + TOKEN);
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.body()).contains("vfio_broker_");
    }

    @Test
    void nothingElseAndNoStateChanges() throws Exception {
        HttpResponse<String> info = send("GET", "/actuator/info", "Bearer " + TOKEN);
        assertThat(info.statusCode()).isEqualTo(404);
        assertThat(info.body()).contains("not served on the management port");
        assertThat(send("GET", "/actuator/env", "Bearer " + TOKEN).statusCode()).isEqualTo(404);
        assertThat(send("POST", "/actuator/health", null).statusCode()).isEqualTo(405);
        assertThat(send("GET", "/actuator/health/..;/prometheus", null).statusCode()).isIn(400, 404);
        assertThat(send("GET", "/api/v1/whoami", null).statusCode()).isEqualTo(404);
    }
}
