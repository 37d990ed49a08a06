package io.vfiobroker.charts;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** charts/vfio-broker, linted and rendered by real Helm, the output read back as Kubernetes objects. */
class HelmChartTest {

    static final Path CHART = Path.of(System.getProperty("chart.dir", "vfio-broker")).toAbsolutePath();

    @TempDir
    Path dir;

    @SuppressWarnings("unchecked")
    static <T> T at(Object node, String... path) {
        Object o = node;
        for (String p : path) {
            if (o instanceof Map<?, ?> m) o = m.get(p);
            else if (o instanceof List<?> l) o = l.get(Integer.parseInt(p));
            else throw new AssertionError("no " + String.join(".", path) + " (stopped at " + p + ")");
        }
        return (T) o;
    }

    static List<Map<String, Object>> objects(String rendered) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object o : new Yaml().loadAll(rendered)) {
            if (o instanceof Map<?, ?>) {
                @SuppressWarnings("unchecked") Map<String, Object> m = (Map<String, Object>) o;
                assertThat(m).containsKeys("apiVersion", "kind", "metadata");
                out.add(m);
            }
        }
        return out;
    }

    static Map<String, Object> one(List<Map<String, Object>> objs, String kind) {
        List<Map<String, Object>> found = objs.stream().filter(o -> kind.equals(o.get("kind"))).toList();
        assertThat(found).as(kind).hasSize(1);
        return found.get(0);
    }

    private Path values(String yaml) throws Exception {
        Path f = dir.resolve("values-" + System.nanoTime() + ".yaml");
        Files.writeString(f, yaml);
        return f;
    }

    @Test
    void theChartLintsCleanInStrictMode() {
        LintResult r = new Helm(CHART).lint().strict().call();
        assertThat(r.isFailed()).as(String.join("\n", r.getMessages())).isFalse();
    }

    @Test
    void defaultValuesRenderAPrivilegedDaemonSetWithTheHostMountsProbesAndHostPid() {
        List<Map<String, Object>> objs = objects(new Helm(CHART).template().withName("vb").withNamespace("vfio").call());
        assertThat(objs).extracting(o -> (String) o.get("kind")).containsExactlyInAnyOrder("ServiceAccount", "ConfigMap", "DaemonSet");

        Map<String, Object> ds = one(objs, "DaemonSet");
        assertThat((String) at(ds, "apiVersion")).isEqualTo("apps/v1");
        Map<String, Object> pod = at(ds, "spec", "template", "spec");
        assertThat((Boolean) pod.get("hostPID")).as("protection reads the host's mounts and routes through /proc/1").isTrue();
        assertThat((Boolean) pod.get("automountServiceAccountToken")).isFalse();
        assertThat((String) pod.get("priorityClassName")).isEqualTo("system-node-critical");
        Map<String, Object> c = at(pod, "containers", "0");
        assertThat((Boolean) at(c, "securityContext", "privileged")).isTrue();
        assertThat((String) c.get("image")).isEqualTo("ghcr.io/vfio-broker/vfio-broker:0.1.0");
        assertThat((List<String>) c.get("args")).containsExactly("daemon", "--config", "/etc/vfio-broker/daemon/daemon.yaml");
        for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
            assertThat((String) at(c, probe, "httpGet", "path")).startsWith("/actuator/health/");
            assertThat((String) at(c, probe, "httpGet", "port")).isEqualTo("metrics");
        }
        assertThat((Integer) at(c, "ports", "0", "containerPort")).isEqualTo(8081);
        // The image's launcher applies the node-agent JVM profile; by default the chart adds nothing to it.
        assertThat(env(c)).containsEntry("MALLOC_ARENA_MAX", "2").doesNotContainKeys("VFIO_BROKER_EXTRA_JAVA_OPTS", "JAVA_TOOL_OPTIONS");

        Map<String, String> mounts = new java.util.HashMap<>();
        for (Map<String, Object> m : (List<Map<String, Object>>) c.get("volumeMounts")) mounts.put((String) m.get("name"), (String) m.get("mountPath"));
        assertThat(mounts).containsEntry("sys", "/sys").containsEntry("dev", "/dev")
                .containsEntry("device-plugins", "/var/lib/kubelet/device-plugins").containsEntry("cdi", "/var/run/cdi")
                .containsEntry("sockets", "/run/vfio-broker").containsEntry("state", "/var/lib/vfio-broker")
                .containsEntry("policy", "/etc/vfio-broker/policy").containsEntry("udev", "/run/udev");
        Map<String, String> hostPaths = new java.util.HashMap<>();
        for (Map<String, Object> v : (List<Map<String, Object>>) pod.get("volumes")) {
            if (v.containsKey("hostPath")) hostPaths.put((String) v.get("name"), at(v, "hostPath", "path"));
        }
        assertThat(hostPaths).containsEntry("sys", "/sys").containsEntry("dev", "/dev")
                .containsEntry("device-plugins", "/var/lib/kubelet/device-plugins").containsEntry("cdi", "/var/run/cdi")
                .containsEntry("sockets", "/run/vfio-broker").containsEntry("state", "/var/lib/vfio-broker")
                .containsEntry("udev", "/run/udev");

        Map<String, Object> cm = one(objs, "ConfigMap");
        Map<String, Object> daemon = new Yaml().load((String) at(cm, "data", "daemon.yaml"));
        assertThat((String) at(daemon, "vfio-broker", "host-proc")).as("the host init's mounts and net/, not the pod's").isEqualTo("/proc/1");
        assertThat((Boolean) at(daemon, "vfio-broker", "kubelet", "enabled")).isTrue();
        assertThat((String) at(daemon, "vfio-broker", "kubelet", "pools", "0", "name")).isEqualTo("intel-x710-vf");
        assertThat((String) at(daemon, "vfio-broker", "kubelet", "pools", "0", "selectors", "vendorDevice")).isEqualTo("8086:154c");
        assertThat((String) at(daemon, "server", "address")).as("the admin API stays on loopback").isEqualTo("127.0.0.1");
        Map<String, Object> policy = new Yaml().load((String) at(cm, "data", "policy.yaml"));
        assertThat((String) at(policy, "rules", "0", "principals", "kubernetesResource")).isEqualTo("vfio-broker.io/intel-x710-vf");
    }

    @Test
    void customValuesBrokerPoolServiceMonitorAndNodeSelection() throws Exception {
        Path v = values("""
                image: { repository: registry.example/vb, tag: "9.9" }
                pools:
                  - name: edu
                    mode: broker
                    backend: iommufd
                    selectors: { vendorDevice: "1234:11e8", numaNode: [0] }
                serviceMonitor: { enabled: true, labels: { release: prom } }
                metrics: { tokenSecret: vb-scrape }
                nodeSelector: { vfio-broker.io/enabled: "true" }
                tolerations: []
                javaOpts: "-Xmx384m"
                """);
        List<Map<String, Object>> objs = objects(new Helm(CHART).template().withName("vb").withValuesFile(v).call());
        assertThat(objs).extracting(o -> (String) o.get("kind")).contains("Service", "ServiceMonitor");
        Map<String, Object> pod = at(one(objs, "DaemonSet"), "spec", "template", "spec");
        assertThat((Boolean) pod.get("hostPID")).as("broker clients in other pods are seen by pid only from the host namespace").isTrue();
        assertThat((Map<String, String>) pod.get("nodeSelector")).containsEntry("vfio-broker.io/enabled", "true");
        assertThat(pod).doesNotContainKey("tolerations");
        assertThat((String) at(pod, "containers", "0", "image")).isEqualTo("registry.example/vb:9.9");
        // After the launcher's profile, so its -Xmx wins over the profile's.
        assertThat(env(at(pod, "containers", "0"))).containsEntry("VFIO_BROKER_EXTRA_JAVA_OPTS", "-Xmx384m");

        Map<String, Object> sm = one(objs, "ServiceMonitor");
        assertThat((String) at(sm, "metadata", "labels", "release")).isEqualTo("prom");
        assertThat((String) at(sm, "spec", "endpoints", "0", "path")).isEqualTo("/actuator/prometheus");
        // The pod-IP port serves metrics only with the token; the scraper sends it, the daemon reads it from the Secret.
        assertThat((String) at(sm, "spec", "endpoints", "0", "authorization", "credentials", "name")).isEqualTo("vb-scrape");
        Map<String, Object> podSpec = at(one(objs, "DaemonSet"), "spec", "template", "spec");
        assertThat((String) at(podSpec, "volumes", String.valueOf(((List<?>) podSpec.get("volumes")).size() - 1), "secret", "secretName"))
                .isEqualTo("vb-scrape");
        assertThat((Map<String, String>) at(sm, "spec", "selector", "matchLabels"))
                .isEqualTo(at(one(objs, "Service"), "spec", "selector"));

        Map<String, Object> daemon = new Yaml().load((String) at(one(objs, "ConfigMap"), "data", "daemon.yaml"));
        Map<String, Object> pool = at(daemon, "vfio-broker", "kubelet", "pools", "0");
        assertThat(pool).containsEntry("mode", "broker").containsEntry("backend", "iommufd");
        assertThat((List<Integer>) at(pool, "selectors", "numaNode")).containsExactly(0);
        assertThat((String) at(daemon, "vfio-broker", "metrics", "token-file")).isEqualTo("/etc/vfio-broker/metrics-token/token");

        // Forcing hostPID off wins; the daemon then has no host view and reads its own /proc (and refuses binds).
        List<Map<String, Object>> off = objects(new Helm(CHART).template().withValuesFile(v).set("hostPID", false).call());
        assertThat((Boolean) at(one(off, "DaemonSet"), "spec", "template", "spec", "hostPID")).isFalse();
        Map<String, Object> offDaemon = new Yaml().load((String) at(one(off, "ConfigMap"), "data", "daemon.yaml"));
        assertThat((String) at(offDaemon, "vfio-broker", "host-proc")).isEqualTo("/proc");
    }

    @Test
    void theSchemaRejectsAMisspeltKeyAndABadPoolMode() throws Exception {
        assertThatThrownBy(() -> new Helm(CHART).template().withValuesFile(values("serviceMonitr: { enabled: true }\n")).call())
                .hasMessageContaining("serviceMonitr");
        Path bad = values("pools: [ { name: x, mode: nodes, selectors: { vendorDevice: \"8086:154c\" } } ]\n");
        assertThatThrownBy(() -> new Helm(CHART).template().withValuesFile(bad).call()).hasMessageContaining("mode");
        // Pools speak the policy's selector keys (docs/selectors.md); the old sriov-dp-style keys are refused by name.
        Path old = values("pools: [ { name: x, selectors: { vendors: [\"8086\"] } } ]\n");
        assertThatThrownBy(() -> new Helm(CHART).template().withValuesFile(old).call()).hasMessageContaining("vendors");
        LintResult lint = new Helm(CHART).lint().call();
        assertThat(lint.isFailed()).isFalse();
    }

    @Test
    @SuppressWarnings("unchecked")
    void draEnabledAddsDeviceClassesItsRbacTheKubeletMountsAndTheDaemonsDraConfig() throws Exception {
        List<Map<String, Object>> off = objects(new Helm(CHART).template().withName("vb").call());
        assertThat(off).extracting(o -> (String) o.get("kind")).doesNotContain("DeviceClass", "ClusterRole", "ClusterRoleBinding");
        assertThat((Boolean) at(one(off, "DaemonSet"), "spec", "template", "spec", "automountServiceAccountToken"))
                .as("the device plugin alone needs no API token").isFalse();
        Map<String, Object> offDaemon = new Yaml().load((String) at(one(off, "ConfigMap"), "data", "daemon.yaml"));
        assertThat((Map<String, Object>) offDaemon.get("vfio-broker")).doesNotContainKey("dra");

        List<Map<String, Object>> objs = objects(new Helm(CHART).template().withName("vb").withNamespace("vfio").set("dra.enabled", true).call());
        List<Map<String, Object>> classes = objs.stream().filter(o -> "DeviceClass".equals(o.get("kind"))).toList();
        assertThat(classes).extracting(c -> (String) at(c, "metadata", "name")).containsExactly("vfio-intel-x710-vf-numa0", "vfio-mellanox");
        assertThat((String) at(classes.get(0), "apiVersion")).isEqualTo("resource.k8s.io/v1");
        assertThat((String) at(classes.get(1), "spec", "selectors", "0", "cel", "expression"))
                .isEqualTo("device.driver == \"vfio.vfio-broker.io\" && (device.attributes[\"vfio.vfio-broker.io\"].vendorId == \"15b3\")");

        Map<String, Object> role = one(objs, "ClusterRole");
        List<Map<String, Object>> rules = (List<Map<String, Object>>) role.get("rules");
        assertThat(rules).anySatisfy(r -> {
            assertThat((List<String>) r.get("resources")).containsExactly("resourceslices");
            assertThat((List<String>) r.get("verbs")).contains("create", "update", "delete");
        });
        assertThat(rules).anySatisfy(r -> {
            assertThat((List<String>) r.get("resources")).containsExactly("resourceclaims");
            assertThat((List<String>) r.get("verbs")).containsExactly("get", "list", "watch");
        });
        Map<String, Object> binding = one(objs, "ClusterRoleBinding");
        assertThat((String) at(binding, "subjects", "0", "name")).isEqualTo(at(one(objs, "ServiceAccount"), "metadata", "name"));
        assertThat((String) at(binding, "subjects", "0", "namespace")).isEqualTo("vfio");

        Map<String, Object> pod = at(one(objs, "DaemonSet"), "spec", "template", "spec");
        assertThat((Boolean) pod.get("automountServiceAccountToken")).isTrue();
        List<Map<String, Object>> mounts = at(pod, "containers", "0", "volumeMounts");
        assertThat(mounts).extracting(m -> (String) m.get("mountPath"))
                .contains("/var/lib/kubelet/plugins_registry", "/var/lib/kubelet/plugins");
        List<Map<String, Object>> env = at(pod, "containers", "0", "env");
        assertThat(env).anySatisfy(e -> {
            assertThat(e.get("name")).isEqualTo("NODE_NAME");
            assertThat((String) at(e, "valueFrom", "fieldRef", "fieldPath")).isEqualTo("spec.nodeName");
        });

        Map<String, Object> daemon = new Yaml().load((String) at(one(objs, "ConfigMap"), "data", "daemon.yaml"));
        Map<String, Object> dra = at(daemon, "vfio-broker", "dra");
        assertThat(dra).containsEntry("enabled", true).containsEntry("driver-name", "vfio.vfio-broker.io")
                .containsEntry("kubelet-dir", "/var/lib/kubelet");
        assertThat((String) at(dra, "pools", "0", "name")).isEqualTo("intel-x710-vf");
        assertThat((Map<String, Object>) at(daemon, "vfio-broker", "kubelet")).as("the device plugin stays on").containsEntry("enabled", true);

        assertThatThrownBy(() -> new Helm(CHART).template().set("dra.enabled", true).set("dra.driverName", "Not_A_Domain").call())
                .hasMessageContaining("driverName");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, String> env(Map<String, Object> container) {
        Map<String, String> env = new java.util.HashMap<>();
        for (Map<String, Object> e : (List<Map<String, Object>>) container.get("env")) {
            if (e.get("value") != null) env.put((String) e.get("name"), (String) e.get("value"));
        }
        return env;
    }
}
