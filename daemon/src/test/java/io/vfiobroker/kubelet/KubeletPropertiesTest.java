package io.vfiobroker.kubelet;

import com.marcnuri.helm.Helm;
import io.vfiobroker.domain.Backend;
import io.vfiobroker.nodeplugin.PoolConfig;
import io.vfiobroker.policy.DeviceSelector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.io.ByteArrayResource;
import org.yaml.snakeyaml.Yaml;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class KubeletPropertiesTest {

    static final Path CHART = Path.of("..", "charts", "vfio-broker").toAbsolutePath().normalize();

    @TempDir
    Path dir;

    /** daemon.yaml from the ConfigMap that real Helm renders from charts/vfio-broker with {@code values}. */
    @SuppressWarnings("unchecked")
    static String renderedDaemonYaml(Path valuesFile) {
        String rendered = new Helm(CHART).template().withName("vb").withNamespace("vfio").withValuesFile(valuesFile).call();
        for (Object o : new Yaml().loadAll(rendered)) {
            if (o instanceof Map<?, ?> m && "ConfigMap".equals(m.get("kind"))) {
                return ((Map<String, String>) m.get("data")).get("daemon.yaml");
            }
        }
        throw new AssertionError("the chart rendered no ConfigMap:\n" + rendered);
    }

    static KubeletProperties bind(String yaml) throws Exception {
        var sources = new YamlPropertySourceLoader().load("daemon.yaml", new ByteArrayResource(yaml.getBytes(StandardCharsets.UTF_8)));
        return new Binder(ConfigurationPropertySources.from(sources)).bind("vfio-broker.kubelet", KubeletProperties.class).get();
    }

    @Test
    void theChartsRenderedDaemonConfigBindsWithHostPathsBelowTheRoot() throws Exception {
        Path values = dir.resolve("values.yaml");
        Files.writeString(values, """
                pools:
                  - name: intel-x710-vf
                    selectors:
                      vendorDevice: "8086:154c"
                      driver: [iavf]
                  - name: edu
                    mode: broker
                    backend: iommufd
                    selectors:
                      numaNode: 0
                      pfName: ["ens1f0#0-3"]
                      class: "0200"
                """);
        KubeletProperties p = bind(renderedDaemonYaml(values));
        assertThat(p.enabled()).isTrue();
        assertThat(p.pluginDir()).isEqualTo("var/lib/kubelet/device-plugins");
        assertThat(p.cdiDir()).isEqualTo("var/run/cdi");
        assertThat(p.cdi()).isTrue();
        assertThat(p.resourceDomain()).isEqualTo("vfio-broker.io");
        assertThat(p.brokerSocketDir()).isEqualTo("/run/vfio-broker");
        assertThat(p.refreshInterval()).isEqualTo(Duration.ofSeconds(5));
        assertThat(p.pools()).hasSize(2);
        assertThat(p.pools().get(0).mode()).as("the chart's default mode").isEqualTo(PoolConfig.Mode.DEVICE_NODES);
        assertThat(p.pools().get(0).backend()).as("the chart's default backend").isEqualTo(Backend.LEGACY);
        assertThat(p.pools().get(0).selectors().vendorDevices()).containsExactly("8086:154c");
        assertThat(p.pools().get(0).selectors().drivers()).containsExactly("iavf");
        assertThat(p.pools().get(1).mode()).isEqualTo(PoolConfig.Mode.BROKER);
        assertThat(p.pools().get(1).backend()).isEqualTo(Backend.IOMMUFD);
        assertThat(p.pools().get(1).selectors().numaNodes()).containsExactly(0);
        assertThat(p.pools().get(1).selectors().pfNames()).containsExactly(new DeviceSelector.PfName("ens1f0", 0, 3));
        assertThat(p.pools().get(1).selectors().classes()).containsExactly("0200");
        assertThat(p.resourceName(p.pools().get(1))).isEqualTo("vfio-broker.io/edu");
    }

    @Test
    void theChartsDefaultValuesBindToo() throws Exception {
        Path empty = dir.resolve("empty.yaml");
        Files.writeString(empty, "{}\n");
        KubeletProperties p = bind(renderedDaemonYaml(empty));
        assertThat(p.pools()).extracting(PoolConfig::name).isEqualTo(List.of("intel-x710-vf"));
        assertThat(p.resourceName(p.pools().get(0))).isEqualTo("vfio-broker.io/intel-x710-vf");
    }

    @Test
    void aPoolWithoutSelectorsOrWithABadNameIsRefusedWithAMessage() {
        assertThatThrownBy(() -> new PoolConfig("all", null, null, (DeviceSelector) null)).hasMessageContaining("has no selectors");
        assertThatThrownBy(() -> new PoolConfig("Bad/Name", null, null, (DeviceSelector) null)).hasMessageContaining("pool name 'Bad/Name'");
    }

    @Test
    void poolSelectorsAreThePolicysLanguageAndItsErrors() throws Exception {
        assertThatThrownBy(() -> bind("""
                vfio-broker.kubelet.pools:
                  - name: old
                    selectors:
                      vendors: ["8086"]
                """)).rootCause().hasMessageContaining("pool 'old' selectors.vendors: unknown key 'vendors'").hasMessageContaining("vendorDevice");
        assertThatThrownBy(() -> new PoolConfig("p", null, null, Map.of("vendorDevice", List.of("8086")))).hasMessageContaining("'8086' is not 'vvvv:dddd'");
        assertThatThrownBy(() -> new PoolConfig("p", null, null, Map.of("label", List.of("x")))).hasMessageContaining("labels");
        assertThatThrownBy(() -> new PoolConfig("p", null, null, Map.of("pfName", List.of("ens1f0#3-1")))).hasMessageContaining("ens1f0#3-1");
    }

    /** What a bad pool mode says at start: the pool, the value and the accepted ones; spellings Spring took still bind. */
    @Test
    void aPoolsModeIsDeviceNodesOrBrokerAndABadOneNamesThePool() throws Exception {
        String pools = """
                vfio-broker.kubelet.pools:
                  - name: nics
                    selectors: { any: ["true"] }
                  - name: edu
                    mode: %s
                    selectors: { any: ["true"] }
                """;
        assertThatThrownBy(() -> bind(pools.formatted("fds"))).hasMessageContaining("pools[1]").rootCause()
                .hasMessage("pool 'edu': mode 'fds' is not one of device-nodes, broker");
        for (String spelling : List.of("broker", "BROKER", "Broker")) {
            assertThat(bind(pools.formatted(spelling)).pools()).extracting(PoolConfig::mode).containsExactly(PoolConfig.Mode.DEVICE_NODES, PoolConfig.Mode.BROKER);
        }
        for (String spelling : List.of("device-nodes", "DEVICE_NODES", "deviceNodes")) {
            assertThat(bind(pools.formatted(spelling)).pools().get(1).mode()).isEqualTo(PoolConfig.Mode.DEVICE_NODES);
        }
    }

    /** What a bad pool backend says at start: the pool, the value, the accepted ones, and for "either" what to write. */
    @Test
    void aPoolsBackendIsLegacyOrIommufdAndABadOneNamesThePool() throws Exception {
        String pools = """
                vfio-broker.kubelet.pools:
                  - name: nics
                    backend: legacy
                    selectors: { any: ["true"] }
                  - name: edu
                    backend: %s
                    selectors: { any: ["true"] }
                """;
        // A pool has one backend: "either" is a policy limit's spelling, not a pool's.
        assertThatThrownBy(() -> bind(pools.formatted("either"))).hasMessageContaining("pools[1]").rootCause()
                .hasMessage("pool 'edu': backend 'either' is not one of legacy, iommufd; a pool has one backend: write legacy (the default)"
                        + " or iommufd, and let policy limits allow either");
        assertThatThrownBy(() -> bind(pools.formatted("vfio"))).rootCause()
                .hasMessage("pool 'edu': backend 'vfio' is not one of legacy, iommufd");
        assertThat(bind(pools.formatted("IOMMUFD")).pools()).extracting(PoolConfig::backend).containsExactly(Backend.LEGACY, Backend.IOMMUFD);
        assertThat(bind(pools.formatted("''")).pools().get(1).backend()).as("unset: the default").isEqualTo(Backend.LEGACY);
    }
}
