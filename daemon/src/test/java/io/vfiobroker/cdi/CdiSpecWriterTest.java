package io.vfiobroker.cdi;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CdiSpecWriterTest {

    @TempDir
    Path dir;

    static final Set<String> KNOWN_VERSIONS = Set.of("0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0");

    static CdiSpec legacy(String... groups) {
        List<CdiSpec.Device> devs = new java.util.ArrayList<>();
        for (int i = 0; i < groups.length; i++) {
            devs.add(new CdiSpec.Device("0000:3b:02." + i, new CdiSpec.ContainerEdits(List.of("VFIO_BROKER_DEVICE_0000_3B_02_" + i + "=0000:3b:02." + i),
                    List.of(new CdiSpec.DeviceNode("/dev/vfio/" + groups[i], null, "c", "rw")), List.of())));
        }
        return new CdiSpec("vfio-broker.io/x710-vf", devs, new CdiSpec.ContainerEdits(List.of(),
                List.of(new CdiSpec.DeviceNode("/dev/vfio/vfio", null, "c", "rw")), List.of()));
    }

    /** The CDI spec's documented rules for what we emit (SPEC.md: kind, names, version, edits). */
    static void assertValidCdi(JsonNode spec) {
        String version = spec.get("cdiVersion").asString();
        assertThat(KNOWN_VERSIONS).contains(version);
        String kind = spec.get("kind").asString();
        assertThat(kind).matches("[a-z0-9]([a-z0-9.-]*[a-z0-9])?/[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?");
        assertThat(spec.get("devices").size()).isPositive();
        Pattern name = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9_.:-]*[A-Za-z0-9])?");
        for (JsonNode d : spec.get("devices")) {
            assertThat(d.get("name").asString()).matches(name);
            JsonNode edits = d.get("containerEdits");
            assertThat(edits.size()).as("a device needs non-empty edits").isPositive();
            // Names starting with a digit exist since 0.5.0.
            if (Character.isDigit(d.get("name").asString().charAt(0))) assertThat(version).isNotIn("0.3.0", "0.4.0");
            if (edits.has("deviceNodes")) {
                for (JsonNode n : edits.get("deviceNodes")) assertThat(n.get("path").asString()).startsWith("/");
            }
        }
        for (var it = spec.properties().iterator(); it.hasNext(); ) {
            assertThat(it.next().getKey()).isIn("cdiVersion", "kind", "devices", "containerEdits", "annotations");
        }
    }

    @Test
    void writesAValidSpecNamedAfterTheKindWithTheMinimumVersionItNeeds() throws Exception {
        CdiSpecWriter w = new CdiSpecWriter(dir.resolve("var/run/cdi"));
        assertThat(w.write(legacy("12", "13"))).isTrue();
        Path file = dir.resolve("var/run/cdi/vfio-broker.io-x710-vf.json");
        JsonNode spec = JsonMapper.builder().build().readTree(Files.readString(file));
        assertValidCdi(spec);
        assertThat(spec.get("cdiVersion").asString()).isEqualTo("0.5.0");
        assertThat(spec.get("kind").asString()).isEqualTo("vfio-broker.io/x710-vf");
        assertThat(spec.get("devices").get(1).get("name").asString()).isEqualTo("0000:3b:02.1");
        assertThat(spec.get("devices").get(1).get("containerEdits").get("deviceNodes").get(0).get("path").asString()).isEqualTo("/dev/vfio/13");
        assertThat(spec.get("containerEdits").get("deviceNodes").get(0).get("path").asString()).isEqualTo("/dev/vfio/vfio");
        assertThat(Files.getPosixFilePermissions(file)).hasSize(4); // rw-r--r--
        try (var s = Files.list(file.getParent())) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly("vfio-broker.io-x710-vf.json");
        }
    }

    @Test
    void unchangedContentIsNotRewrittenAndChangesReplaceTheFileWhole() throws Exception {
        CdiSpecWriter w = new CdiSpecWriter(dir);
        w.write(legacy("12"));
        Object inode = Files.getAttribute(w.file("vfio-broker.io/x710-vf"), "unix:ino");
        assertThat(w.write(legacy("12"))).isFalse();
        assertThat(Files.getAttribute(w.file("vfio-broker.io/x710-vf"), "unix:ino")).isEqualTo(inode);
        assertThat(w.write(legacy("12", "14"))).isTrue();
        // Renamed over, not rewritten in place: a runtime reading the old file never sees half of the new one.
        assertThat(Files.getAttribute(w.file("vfio-broker.io/x710-vf"), "unix:ino")).isNotEqualTo(inode);
        assertThat(w.remove("vfio-broker.io/x710-vf")).isTrue();
        assertThat(w.file("vfio-broker.io/x710-vf")).doesNotExist();
    }

    @Test
    void minimumVersionFollowsTheFieldsUsed() {
        var node = new CdiSpec.ContainerEdits(List.of("A=1"), List.of(), List.of());
        assertThat(new CdiSpec("vfio-broker.io/pool", List.of(new CdiSpec.Device("dev0", node)), null).minimumVersion()).isEqualTo("0.3.0");
        var typed = new CdiSpec.ContainerEdits(List.of(), List.of(), List.of(new CdiSpec.Mount("/a", "/b", List.of("bind"), "bind")));
        assertThat(new CdiSpec("vfio-broker.io/pool", List.of(new CdiSpec.Device("dev0", typed)), null).minimumVersion()).isEqualTo("0.4.0");
        assertThat(new CdiSpec("vfio-broker.io/pool", List.of(new CdiSpec.Device("0dev", node)), null).minimumVersion()).isEqualTo("0.5.0");
        assertThat(new CdiSpec("vfio-broker.io/pool.x", List.of(new CdiSpec.Device("dev0", node)), null).minimumVersion()).isEqualTo("0.6.0");
    }

    @Test
    void invalidKindsNamesAndEmptySpecsAreRefused() {
        var e = new CdiSpec.ContainerEdits(List.of("A=1"), List.of(), List.of());
        assertThatThrownBy(() -> new CdiSpec("vfio-broker.io", List.of(new CdiSpec.Device("a", e)), null)).hasMessageContaining("vendor.com/class");
        assertThatThrownBy(() -> new CdiSpec("v.io/p", List.of(new CdiSpec.Device("-a", e)), null)).hasMessageContaining("not valid");
        assertThatThrownBy(() -> new CdiSpec("v.io/p", List.of(), null)).hasMessageContaining("at least one device");
    }
}
