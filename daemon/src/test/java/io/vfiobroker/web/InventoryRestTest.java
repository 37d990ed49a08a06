package io.vfiobroker.web;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

import static org.assertj.core.api.Assertions.assertThat;

@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"vfio-broker.demo=true", "vfio-broker.state-dir=${java.io.tmpdir}/vfio-broker-test-state"})
class InventoryRestTest {

    @LocalServerPort
    int port;

    private final HttpClient http = HttpClient.newHttpClient();
    private final JsonMapper json = JsonMapper.builder().build();

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void servesTheDemoHostsDevicesGroupsAndIommu() throws Exception {
        HttpResponse<String> devices = get("/api/v1/devices");
        assertThat(devices.statusCode()).isEqualTo(200);
        JsonNode arr = json.readTree(devices.body());
        assertThat(arr.size()).isGreaterThan(15);
        assertThat(arr.findValuesAsString("address")).contains("0000:06:00.0");

        JsonNode groups = json.readTree(get("/api/v1/groups").body());
        assertThat(groups.size()).isGreaterThan(10);

        JsonNode iommu = json.readTree(get("/api/v1/iommu").body());
        assertThat(iommu.get("units").get(0).get("name").asString()).isEqualTo("dmar0");
        assertThat(iommu.get("kernel").get("vfio").asBoolean()).isTrue();
    }

    @Test
    void oneDeviceByAddress() throws Exception {
        HttpResponse<String> r = get("/api/v1/devices/0000:06:00.0");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(json.readTree(r.body()).get("deviceId").asString()).isEqualTo("11e8");
    }

    @Test
    void badAddressIsABadRequestNamingIt() throws Exception {
        HttpResponse<String> r = get("/api/v1/devices/..%2F..%2Fetc");
        assertThat(r.statusCode()).isIn(400);
        HttpResponse<String> r2 = get("/api/v1/devices/0000:zz:00.0");
        assertThat(r2.statusCode()).isEqualTo(400);
        assertThat(r2.body()).contains("invalid PCI address '0000:zz:00.0'");
        assertThat(get("/api/v1/devices/0000:7f:00.0").statusCode()).isEqualTo(404);
        assertThat(get("/api/v1/groups/abc").statusCode()).isEqualTo(400);
    }

    @Test
    void healthIsUp() throws Exception {
        HttpResponse<String> r = get("/actuator/health");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("UP");
    }
}
