package io.vfiobroker.web;

import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.controlplane.ControlPlane;
import io.vfiobroker.domain.Device;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.lease.Lease;
import io.vfiobroker.lease.LeaseService;
import io.vfiobroker.policy.PolicyService;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The HTTP trust boundary against a real daemon context on an ephemeral port, attacked by real curl processes: as
 * uid 65534 (setpriv), as root with a foreign Host or Origin, and as root in its own pid namespace (unshare, a pod's
 * view). Every refusal is followed by a look at the state it would have changed.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class HttpTrustBoundaryTest {

    static final Path DIR;

    static {
        try {
            DIR = Files.createTempDirectory(Path.of("/tmp"), "vb-http-");
            Files.setPosixFilePermissions(DIR, PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @DynamicPropertySource
    static void props(DynamicPropertyRegistry r) throws Exception {
        Files.writeString(DIR.resolve("policy.yaml"), ControlPlane.POLICY);
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
    LeaseService leases;
    @Autowired
    BindingService binding;
    @Autowired
    PolicyService policy;
    @Autowired
    AuditLog audit;
    @Autowired
    InventoryScanner scanner;

    static Process nobodyHolder;
    Lease rootLease;
    Lease nobodyLease;
    final JsonMapper json = JsonMapper.builder().build();

    record Answer(int status, String headers, String body) {
        JsonNode json() {
            return JsonMapper.builder().build().readTree(body);
        }
    }

    @BeforeEach
    void leases() throws Exception {
        for (Lease l : leases.active()) leases.end(l.id(), "test reset");
        for (Lease l : leases.active()) assertThat(leases.awaitEnded(l.id(), java.time.Duration.ofSeconds(20))).isTrue();
        if (nobodyHolder == null || !nobodyHolder.isAlive()) {
            nobodyHolder = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sleep", "600").start();
        }
        rootLease = leases.acquire(new Caller((int) ProcessHandle.current().pid(), 0, 0), List.of("0000:06:00.0"), null, 0).getKey();
        nobodyLease = leases.acquire(new Caller((int) nobodyHolder.pid(), 65534, 65534), List.of("0000:07:02.1"), null, 0).getKey();
    }

    @AfterAll
    static void stopHolder() {
        if (nobodyHolder != null) nobodyHolder.destroyForcibly();
    }

    /** curl as {@code prefix} (setpriv, unshare or nothing); args after the URL path are curl options. */
    Answer curl(List<String> prefix, String method, String path, String... opts) throws Exception {
        Path out = Files.createTempFile(DIR, "body-", ".txt");
        Path hdr = Files.createTempFile(DIR, "hdr-", ".txt");
        Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("rw-rw-rw-"));
        Files.setPosixFilePermissions(hdr, PosixFilePermissions.fromString("rw-rw-rw-"));
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of("curl", "-sS", "--max-time", "5", "-X", method, "-o", out.toString(), "-D", hdr.toString(), "-w", "%{http_code}"));
        cmd.addAll(List.of(opts));
        cmd.add(List.of(opts).contains("--unix-socket") ? "http://localhost" + path : "http://127.0.0.1:" + port + path);
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        String code = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        return new Answer(Integer.parseInt(code.isEmpty() ? "0" : code), Files.readString(hdr), Files.readString(out));
    }

    static final List<String> NOBODY = List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups");
    static final List<String> ROOT = List.of();
    static final List<String> POD_ROOT = List.of("unshare", "--pid", "--fork", "--mount-proc");
    static final String[] JSON = {"-H", "Content-Type: application/json"};

    Answer nobody(String method, String path, String... opts) throws Exception {
        return curl(NOBODY, method, path, opts);
    }

    Answer root(String method, String path, String... opts) throws Exception {
        return curl(ROOT, method, path, opts);
    }

    static String[] with(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    int freeGroup() {
        java.util.Set<Integer> owned = new java.util.HashSet<>();
        binding.status().values().forEach(o -> owned.add(o.group()));
        return scanner.scan().devices().stream().filter(d -> d.iommuGroup() != null && !"vfio-pci".equals(d.driver())).mapToInt(Device::iommuGroup)
                .filter(g -> !owned.contains(g)).findFirst().orElseThrow();
    }

    @Test
    void nobodyIsIdentifiedByTheKernelAndMayNotChangeAnything() throws Exception {
        JsonNode me = nobody("GET", "/api/v1/whoami").json();
        assertThat(me.get("uid").asInt()).isEqualTo(65534);
        assertThat(me.get("admin").asBoolean()).isFalse();
        assertThat(me.get("via").asString()).isEqualTo("inet_diag");
        JsonNode root = root("GET", "/api/v1/whoami").json();
        assertThat(root.get("uid").asInt()).isZero();
        assertThat(root.get("admin").asBoolean()).isTrue();

        int group = freeGroup();
        var bindingsBefore = Map.copyOf(binding.status());
        Answer bind = nobody("POST", "/api/v1/bindings", with(JSON, "-d", "{\"group\":" + group + "}"));
        assertThat(bind.status()).isEqualTo(403);
        assertThat(bind.body()).contains("for admins").contains("uid 65534");
        // Even with the caller's own CSRF token.
        String token = me.get("csrf").asString();
        assertThat(nobody("POST", "/api/v1/bindings", "-H", "Content-Type: application/json", "-H", WebGuard.CSRF_HEADER + ": " + token,
                "-d", "{\"group\":" + group + "}").status()).isEqualTo(403);
        int bound = bindingsBefore.values().stream().mapToInt(o -> o.group()).findFirst().orElse(group);
        assertThat(nobody("DELETE", "/api/v1/bindings/" + bound, JSON).status()).isEqualTo(403);
        assertThat(binding.status()).isEqualTo(bindingsBefore);
        // The same bind request from root (dry run) passes the door: the refusal above was about the caller.
        assertThat(root("POST", "/api/v1/bindings", with(JSON, "-d", "{\"group\":" + group + ",\"dryRun\":true}")).status()).isIn(200, 409);
        assertThat(binding.status()).isEqualTo(bindingsBefore);

        String before = policy.current().text();
        Files.writeString(DIR.resolve("policy.yaml"), "version: 1\nrules: []\n");
        try {
            Answer reload = nobody("POST", "/api/v1/policy/reload", JSON);
            assertThat(reload.status()).isEqualTo(403);
            assertThat(policy.current().text()).isEqualTo(before);
        } finally {
            Files.writeString(DIR.resolve("policy.yaml"), ControlPlane.POLICY);
        }
        assertThat(nobody("GET", "/api/v1/accounting").status()).isEqualTo(403);
        assertThat(nobody("GET", "/actuator/prometheus").status()).isEqualTo(403);
        assertThat(nobody("GET", "/actuator/health").status()).isEqualTo(200);
        assertThat(nobody("GET", "/api/v1/devices").status()).isEqualTo(200);
    }

    @Test
    void nobodyReadsOnlyItsOwnLeasesAndAuditAndNoPolicyText() throws Exception {
        Answer pol = nobody("GET", "/api/v1/policy");
        assertThat(pol.status()).isEqualTo(403);
        assertThat(pol.body()).doesNotContain("nobody-vfs");
        assertThat(root("GET", "/api/v1/policy").body()).contains("nobody-vfs");

        JsonNode list = nobody("GET", "/api/v1/leases?includeEnded=true").json();
        List<String> ids = new ArrayList<>();
        list.forEach(l -> ids.add(l.get("id").asString()));
        assertThat(ids).contains(nobodyLease.id()).doesNotContain(rootLease.id());
        assertThat(nobody("GET", "/api/v1/leases/" + nobodyLease.id()).status()).isEqualTo(200);
        Answer other = nobody("GET", "/api/v1/leases/" + rootLease.id());
        assertThat(other.status()).isEqualTo(403);
        assertThat(other.body()).doesNotContain("0000:06:00.0");

        Answer revoke = nobody("DELETE", "/api/v1/leases/" + rootLease.id(), JSON);
        assertThat(revoke.status()).isEqualTo(403);
        assertThat(leases.get(rootLease.id()).orElseThrow().active()).isTrue();

        JsonNode mine = nobody("GET", "/api/v1/audit?size=500").json();
        assertThat(mine.size()).isPositive();
        mine.forEach(r -> assertThat(r.get("fields").get("uid").asString()).isEqualTo("65534"));
        assertThat(audit.page(0, 500).stream().anyMatch(r -> "0".equals(r.fields().get("uid")))).isTrue();

        // Its own lease it may end.
        Answer release = nobody("DELETE", "/api/v1/leases/" + nobodyLease.id(), JSON);
        assertThat(release.status()).isEqualTo(200);
        assertThat(leases.get(nobodyLease.id()).orElseThrow().active()).isFalse();
        assertThat(leases.get(rootLease.id()).orElseThrow().active()).isTrue();
    }

    @Test
    void aForeignHostIsRefusedOnEveryPathEvenForRoot() throws Exception {
        for (String path : List.of("/api/v1/devices", "/api/v1/events", "/actuator/health", "/actuator/prometheus", "/console/")) {
            Answer a = root("GET", path, "-H", "Host: rebound.example:" + port);
            assertThat(a.status()).as(path).isEqualTo(421);
            assertThat(a.body()).as(path).contains("is not a name of this daemon");
        }
        assertThat(root("GET", "/api/v1/devices", "-H", "Host: localhost:" + (port == 1 ? 2 : port - 1)).status()).isEqualTo(421);
        assertThat(root("GET", "/api/v1/devices", "-H", "Host: localhost:" + port).status()).isEqualTo(200);
        assertThat(root("GET", "/api/v1/devices", "-H", "Host: [::1]:" + port).status()).isEqualTo(200);
        // A non-canonical path never reaches routing.
        assertThat(root("GET", "/console/../api/v1/policy", "--path-as-is").status()).isEqualTo(400);
    }

    @Test
    void crossOriginAndFormStyleStateChangesAreRefusedEvenForRoot() throws Exception {
        String before = policy.current().text();
        String evil = "Origin: http://evil.example:8000";
        Answer post = root("POST", "/api/v1/policy/reload", "-H", evil, "-H", "Content-Type: application/json");
        assertThat(post.status()).isEqualTo(403);
        assertThat(post.body()).contains("cross-origin");
        Answer del = root("DELETE", "/api/v1/leases/" + nobodyLease.id(), "-H", evil, "-H", "Content-Type: application/json");
        assertThat(del.status()).isEqualTo(403);
        assertThat(leases.get(nobodyLease.id()).orElseThrow().active()).isTrue();
        // What an HTML form or a no-cors fetch can send: a simple content type, or none, and no token.
        assertThat(root("POST", "/api/v1/policy/reload").status()).isEqualTo(403);
        assertThat(root("POST", "/api/v1/policy/reload", "-H", "Content-Type: application/x-www-form-urlencoded", "-d", "a=b").status()).isEqualTo(403);
        assertThat(root("POST", "/api/v1/policy/reload", "-H", "Content-Type: text/plain", "-d", "x").status()).isEqualTo(403);
        assertThat(root("DELETE", "/api/v1/leases/" + nobodyLease.id()).status()).isEqualTo(403);
        assertThat(leases.get(nobodyLease.id()).orElseThrow().active()).isTrue();
        Answer preflight = root("OPTIONS", "/api/v1/policy/reload", "-H", evil, "-H", "Access-Control-Request-Method: POST");
        assertThat(preflight.status()).isEqualTo(403);
        assertThat(policy.current().text()).isEqualTo(before);

        // The same origin with the CSRF token (what the console sends) or JSON goes through.
        String token = root("GET", "/api/v1/whoami").json().get("csrf").asString();
        Answer ok = root("POST", "/api/v1/policy/reload", "-H", "Origin: http://127.0.0.1:" + port, "-H", WebGuard.CSRF_HEADER + ": " + token);
        assertThat(ok.status()).isEqualTo(200);
        String otherUsers = nobody("GET", "/api/v1/whoami").json().get("csrf").asString();
        assertThat(root("POST", "/api/v1/policy/reload", "-H", WebGuard.CSRF_HEADER + ": " + otherUsers).status()).isEqualTo(403);
        Answer revoke = root("DELETE", "/api/v1/leases/" + nobodyLease.id(), "-H", WebGuard.CSRF_HEADER + ": " + token);
        assertThat(revoke.status()).isEqualTo(200);
        assertThat(leases.get(nobodyLease.id()).orElseThrow().endReason()).isEqualTo("revoked by admin");

        // No CORS, ever.
        for (Answer a : List.of(post, del, preflight, ok, root("GET", "/api/v1/devices", "-H", evil))) {
            assertThat(a.headers().toLowerCase()).doesNotContain("access-control-");
        }
    }

    @Test
    void rootInAnotherPidNamespaceIsNotAnAdmin() throws Exception {
        JsonNode me = curl(POD_ROOT, "GET", "/api/v1/whoami").json();
        assertThat(me.get("uid").asInt()).isZero();
        assertThat(me.get("admin").asBoolean()).isFalse();
        assertThat(curl(POD_ROOT, "GET", "/api/v1/policy").status()).isEqualTo(403);
        String before = policy.current().text();
        assertThat(curl(POD_ROOT, "POST", "/api/v1/policy/reload", JSON).status()).isEqualTo(403);
        JsonNode list = curl(POD_ROOT, "GET", "/api/v1/leases").json();
        assertThat(list.size()).isZero(); // root's lease is held in the host's pid namespace
        assertThat(curl(POD_ROOT, "DELETE", "/api/v1/leases/" + rootLease.id(), JSON).status()).isEqualTo(403);
        assertThat(curl(POD_ROOT, "DELETE", "/api/v1/leases/" + nobodyLease.id(), JSON).status()).isEqualTo(403);
        assertThat(leases.get(rootLease.id()).orElseThrow().active()).isTrue();
        assertThat(leases.get(nobodyLease.id()).orElseThrow().active()).isTrue();
        assertThat(policy.current().text()).isEqualTo(before);
    }

    static final String[] UNIX = {"--unix-socket", DIR.resolve("run/http.sock").toString()};

    @Test
    void theUnixSocketNamesItsCallerBySoPeercredWithTheSameRights() throws Exception {
        Path sock = DIR.resolve("run/http.sock");
        assertThat(Files.getPosixFilePermissions(sock)).isEqualTo(PosixFilePermissions.fromString("rw-rw-rw-"));
        JsonNode me = nobody("GET", "/api/v1/whoami", UNIX).json();
        assertThat(me.get("uid").asInt()).isEqualTo(65534);
        assertThat(me.get("admin").asBoolean()).isFalse();
        assertThat(me.get("via").asString()).isEqualTo("unix socket");
        JsonNode root = root("GET", "/api/v1/whoami", UNIX).json();
        assertThat(root.get("uid").asInt()).isZero();
        assertThat(root.get("admin").asBoolean()).isTrue();
        assertThat(root.get("via").asString()).isEqualTo("unix socket");
        assertThat(root("GET", "/api/v1/policy", UNIX).status()).isEqualTo(200);

        String before = policy.current().text();
        var bindingsBefore = Map.copyOf(binding.status());
        Files.writeString(DIR.resolve("policy.yaml"), "version: 1\nrules: []\n");
        try {
            Answer reload = nobody("POST", "/api/v1/policy/reload", with(UNIX, JSON));
            assertThat(reload.status()).isEqualTo(403);
            assertThat(reload.body()).contains("uid 65534").contains("unix socket");
            assertThat(nobody("POST", "/api/v1/bindings", with(with(UNIX, JSON), "-d", "{\"group\":" + freeGroup() + "}")).status()).isEqualTo(403);
            assertThat(nobody("GET", "/api/v1/policy", UNIX).status()).isEqualTo(403);
            assertThat(nobody("DELETE", "/api/v1/leases/" + rootLease.id(), with(UNIX, JSON)).status()).isIn(403, 404);
            // A pod's root on the socket (its own pid namespace) is no admin either.
            JsonNode pod = curl(POD_ROOT, "GET", "/api/v1/whoami", UNIX).json();
            assertThat(pod.get("uid").asInt()).isZero();
            assertThat(pod.get("admin").asBoolean()).isFalse();
            assertThat(curl(POD_ROOT, "POST", "/api/v1/policy/reload", with(UNIX, JSON)).status()).isEqualTo(403);
            assertThat(policy.current().text()).isEqualTo(before);
            assertThat(binding.status()).isEqualTo(bindingsBefore);
            assertThat(leases.get(rootLease.id()).orElseThrow().active()).isTrue();
        } finally {
            Files.writeString(DIR.resolve("policy.yaml"), ControlPlane.POLICY);
        }
        // Its own lease, yes: the same rights as on TCP.
        JsonNode mine = nobody("GET", "/api/v1/leases", UNIX).json();
        assertThat(mine.size()).isEqualTo(1);
        assertThat(mine.get(0).get("id").asString()).isEqualTo(nobodyLease.id());
    }
}
