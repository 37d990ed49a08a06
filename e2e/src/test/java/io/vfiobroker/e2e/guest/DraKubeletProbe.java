package io.vfiobroker.e2e.guest;

import com.sun.net.httpserver.HttpServer;
import io.grpc.ManagedChannel;
import io.vfiobroker.api.dra.v1.Claim;
import io.vfiobroker.api.dra.v1.DRAPluginGrpc;
import io.vfiobroker.api.dra.v1.Device;
import io.vfiobroker.api.dra.v1.NodePrepareResourceResponse;
import io.vfiobroker.api.dra.v1.NodePrepareResourcesRequest;
import io.vfiobroker.api.dra.v1.NodeUnprepareResourcesRequest;
import io.vfiobroker.api.pluginregistration.v1.InfoRequest;
import io.vfiobroker.api.pluginregistration.v1.PluginInfo;
import io.vfiobroker.api.pluginregistration.v1.RegistrationGrpc;
import io.vfiobroker.api.pluginregistration.v1.RegistrationStatus;
import io.vfiobroker.nativeshim.VfioAbi;
import io.vfiobroker.nativeshim.VfioContainer;
import io.vfiobroker.nativeshim.VfioDevice;
import io.vfiobroker.nativeshim.VfioGroup;
import io.vfiobroker.nodeplugin.UnixGrpc;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The kubelet's side of DRA in the guest, as root: it registers the daemon's DRA plugin the way the kubelet's
 * plugin watcher does and calls NodePrepareResources / NodeUnprepareResources (v1) over the Unix sockets. It also
 * stands in for the API server, which the guest has none of: it answers the daemon's GET of the ResourceClaim and
 * of its pod from two JSON files (as the scheduler would have allocated them). Steered line by line on stdin,
 * one JSON line per step on stdout, like LeaseProbe.
 *
 * <pre>DraKubeletProbe API-PORT CLAIM.json POD.json OUT-DIR</pre>
 * Commands: {@code prepare} (also writes the claim's CDI edits as a runtime would apply them: OUT-DIR/cdi.env,
 * cdi.mounts, cdi.nodes), {@code nodes-dma} (a device-nodes workload: opens exactly the spec's nodes and does an
 * edu DMA round trip), {@code unprepare}, {@code exit}.
 */
public final class DraKubeletProbe {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Path REGISTRY = Path.of("/var/lib/kubelet/plugins_registry");
    private static final List<Path> CDI_DIRS = List.of(Path.of("/etc/cdi"), Path.of("/var/run/cdi"));

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        JsonNode claim = JSON.readTree(Files.readString(Path.of(args[1])));
        JsonNode pod = JSON.readTree(Files.readString(Path.of(args[2])));
        Path out = Path.of(args[3]);
        Files.createDirectories(out);
        LeaseProbe.print(Map.of("event", "start", "pid", ProcessHandle.current().pid()));

        HttpServer api = standInApiServer(port, claim, pod);
        api.start();
        // One exchange of our own first: it loads the server's classes, which takes seconds on an emulated vCPU.
        try (java.net.Socket warm = new java.net.Socket("127.0.0.1", port)) {
            warm.getOutputStream().write("GET /warm-up HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            warm.getInputStream().readAllBytes();
        }
        LeaseProbe.print(Map.of("event", "api-ready", "port", port));

        ManagedChannel plugin = register(new UnixGrpc(1));
        var dra = DRAPluginGrpc.newBlockingStub(plugin);
        JsonNode meta = claim.path("metadata");
        Claim c = Claim.newBuilder().setNamespace(meta.path("namespace").asString()).setName(meta.path("name").asString())
                .setUid(meta.path("uid").asString()).build();
        List<String> cdiIds = List.of();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            try {
                switch (line.strip()) {
                    case "prepare" -> {
                        long t0 = System.nanoTime();
                        NodePrepareResourceResponse r = dra.withDeadlineAfter(300, TimeUnit.SECONDS)
                                .nodePrepareResources(NodePrepareResourcesRequest.newBuilder().addClaims(c).build()).getClaimsMap().get(c.getUid());
                        Map<String, Object> m = new LinkedHashMap<>();
                        m.put("event", "prepared");
                        m.put("tookMs", (System.nanoTime() - t0) / 1_000_000);
                        m.put("error", r == null ? "no answer for the claim's uid" : r.getError());
                        List<Object> devices = new ArrayList<>();
                        List<String> ids = new ArrayList<>();
                        if (r != null) {
                            for (Device d : r.getDevicesList()) {
                                devices.add(Map.of("requestNames", d.getRequestNamesList(), "poolName", d.getPoolName(),
                                        "deviceName", d.getDeviceName(), "cdiDeviceIds", d.getCdiDeviceIdsList()));
                                ids.addAll(d.getCdiDeviceIdsList());
                            }
                        }
                        m.put("devices", devices);
                        LeaseProbe.print(m);
                        if (!ids.isEmpty()) {
                            cdiIds = ids;
                            LeaseProbe.print(applyCdi(ids, out));
                        }
                    }
                    case "nodes-dma" -> LeaseProbe.print(nodesDma(cdiIds));
                    case "unprepare" -> {
                        long t0 = System.nanoTime();
                        var r = dra.withDeadlineAfter(300, TimeUnit.SECONDS)
                                .nodeUnprepareResources(NodeUnprepareResourcesRequest.newBuilder().addClaims(c).build()).getClaimsMap().get(c.getUid());
                        LeaseProbe.print(Map.of("event", "unprepared", "tookMs", (System.nanoTime() - t0) / 1_000_000,
                                "error", r == null ? "no answer for the claim's uid" : r.getError()));
                    }
                    case "exit" -> {
                        LeaseProbe.print(Map.of("event", "exit"));
                        Runtime.getRuntime().halt(0);
                    }
                    default -> LeaseProbe.print(Map.of("event", "unknown-command", "command", line));
                }
            } catch (Exception e) {
                LeaseProbe.print(Map.of("event", "failed", "command", line, "error", e.getClass().getSimpleName() + ": " + e.getMessage()));
            }
        }
        Runtime.getRuntime().halt(0);
    }

    /** The two GETs the daemon makes of the API server (ApiServerClaims), answered from the files; anything else 404. */
    private static HttpServer standInApiServer(int port, JsonNode claim, JsonNode pod) throws Exception {
        String ns = claim.path("metadata").path("namespace").asString();
        Map<String, String> paths = Map.of(
                "/apis/resource.k8s.io/v1/namespaces/" + ns + "/resourceclaims/" + claim.path("metadata").path("name").asString(),
                claim.toString(),
                "/api/v1/namespaces/" + ns + "/pods/" + pod.path("metadata").path("name").asString(), pod.toString());
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 4);
        s.createContext("/", x -> {
            String body = "GET".equals(x.getRequestMethod()) ? paths.get(x.getRequestURI().getPath()) : null;
            int status = body == null ? 404 : 200;
            byte[] b = (body == null ? "{\"kind\":\"Status\",\"code\":404}" : body).getBytes(StandardCharsets.UTF_8);
            x.getResponseHeaders().set("Content-Type", "application/json");
            x.sendResponseHeaders(status, b.length);
            x.getResponseBody().write(b);
            x.close();
            LeaseProbe.print(Map.of("event", "api-get", "path", x.getRequestURI().getPath(), "status", status));
        });
        return s;
    }

    /** As the kubelet's plugin watcher: the first *-reg.sock in plugins_registry, GetInfo, NotifyRegistrationStatus. */
    private static ManagedChannel register(UnixGrpc grpc) throws InterruptedException {
        Path sock = null;
        for (int i = 0; i < 1200 && sock == null; i++) {
            try (var s = Files.list(REGISTRY)) {
                sock = s.filter(p -> !p.getFileName().toString().startsWith(".") && p.toString().endsWith("-reg.sock")).findFirst().orElse(null);
            } catch (java.io.IOException ignored) {
                // not there yet
            }
            if (sock == null) Thread.sleep(250);
        }
        if (sock == null) {
            LeaseProbe.print(Map.of("event", "registration-failed", "error", "no registration socket in " + REGISTRY));
            Runtime.getRuntime().halt(1);
        }
        ManagedChannel reg = grpc.connect(sock);
        var stub = RegistrationGrpc.newBlockingStub(reg).withDeadlineAfter(300, TimeUnit.SECONDS);
        PluginInfo info = stub.getInfo(InfoRequest.getDefaultInstance());
        boolean ok = info.getType().equals("DRAPlugin") && info.getSupportedVersionsList().contains("v1.DRAPlugin");
        stub.notifyRegistrationStatus(RegistrationStatus.newBuilder().setPluginRegistered(ok)
                .setError(ok ? "" : "unsupported plugin " + info).build());
        LeaseProbe.print(Map.of("event", "registered", "socket", sock.toString(), "type", info.getType(), "name", info.getName(),
                "endpoint", info.getEndpoint(), "versions", info.getSupportedVersionsList(), "accepted", ok));
        reg.shutdownNow();
        return grpc.connect(Path.of(info.getEndpoint()));
    }

    /**
     * Resolves each CDI ID "kind=name" in the spec directories, as a container runtime does, and writes the union of
     * the devices' edits: cdi.env (KEY=VALUE lines), cdi.mounts ("hostPath containerPath options" lines), cdi.nodes.
     */
    private static Map<String, Object> applyCdi(List<String> ids, Path out) throws Exception {
        Set<String> env = new LinkedHashSet<>();
        Set<String> mounts = new LinkedHashSet<>();
        Set<String> nodes = new LinkedHashSet<>();
        List<String> files = new ArrayList<>();
        List<String> unresolved = new ArrayList<>();
        for (String id : ids) {
            Map.Entry<Path, JsonNode> found = resolve(id);
            if (found == null) {
                unresolved.add(id);
                continue;
            }
            if (!files.contains(found.getKey().toString())) files.add(found.getKey().toString());
            JsonNode dev = found.getValue();
            JsonNode edits = dev.path("containerEdits");
            for (JsonNode e : edits.path("env")) env.add(e.asString());
            for (JsonNode n : edits.path("deviceNodes")) nodes.add(n.path("path").asString());
            for (JsonNode m : edits.path("mounts")) {
                List<String> opts = new ArrayList<>();
                for (JsonNode o : m.path("options")) opts.add(o.asString());
                mounts.add(m.path("hostPath").asString() + " " + m.path("containerPath").asString() + " " + String.join(",", opts));
            }
        }
        Files.write(out.resolve("cdi.env"), env);
        Files.write(out.resolve("cdi.mounts"), mounts);
        Files.write(out.resolve("cdi.nodes"), nodes);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("event", "cdi");
        m.put("specFiles", files);
        m.put("unresolved", unresolved);
        m.put("env", List.copyOf(env));
        m.put("mounts", List.copyOf(mounts));
        m.put("deviceNodes", List.copyOf(nodes));
        return m;
    }

    /**
     * A device-nodes workload: for each prepared device whose spec gives a group node, opens the container node and
     * that group node from the spec (nothing from the broker) and does an edu DMA round trip, then closes everything.
     */
    private static Map<String, Object> nodesDma(List<String> ids) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("event", "nodes-dma");
        List<Object> results = new ArrayList<>();
        try {
            for (String id : ids) {
                Map.Entry<Path, JsonNode> found = resolve(id);
                if (found == null) continue;
                JsonNode edits = found.getValue().path("containerEdits");
                String container = null;
                String group = null;
                for (JsonNode n : edits.path("deviceNodes")) {
                    String p = n.path("path").asString();
                    if (p.equals("/dev/vfio/vfio")) container = p;
                    else if (p.matches("/dev/vfio/\\d+")) group = p;
                }
                String addr = null;
                for (JsonNode e : edits.path("env")) {
                    String kv = e.asString();
                    if (kv.startsWith("VFIO_BROKER_DEVICE_")) addr = kv.substring(kv.indexOf('=') + 1);
                }
                if (container == null || group == null || addr == null) continue;
                int g = Integer.parseInt(group.substring("/dev/vfio/".length()));
                try (VfioContainer c = VfioContainer.open(Path.of(container)); VfioGroup grp = VfioGroup.open(Path.of(group), g)) {
                    grp.setContainer(c);
                    c.setIommu(VfioAbi.VFIO_TYPE1v2_IOMMU);
                    try (VfioDevice d = grp.openDevice(addr)) {
                        Map<String, Object> r = LeaseProbe.eduRoundTrip("dma", addr, d, c);
                        r.remove("event");
                        r.put("nodes", List.of(container, group));
                        results.add(r);
                    }
                }
            }
        } catch (Exception e) {
            out.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        out.put("results", results);
        return out;
    }

    /** The spec file and device entry of a CDI ID "kind=name", or null. */
    private static Map.Entry<Path, JsonNode> resolve(String id) throws Exception {
        String kind = id.substring(0, id.indexOf('='));
        String name = id.substring(id.indexOf('=') + 1);
        for (Path dir : CDI_DIRS) {
            if (!Files.isDirectory(dir)) continue;
            try (var s = Files.list(dir)) {
                // Runtimes read *.json and *.yaml, never dot-files (the writer's temporaries).
                for (Path f : s.filter(p -> p.toString().endsWith(".json") && !p.getFileName().toString().startsWith(".")).sorted().toList()) {
                    JsonNode spec = JSON.readTree(Files.readString(f));
                    if (!kind.equals(spec.path("kind").asString(""))) continue;
                    for (JsonNode d : spec.path("devices")) if (name.equals(d.path("name").asString(""))) return Map.entry(f, d);
                }
            }
        }
        return null;
    }
}
