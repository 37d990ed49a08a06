package io.vfiobroker.lease;

import io.vfiobroker.controlplane.ControlPlane;
import io.vfiobroker.grpc.Authz;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Roles over the real socket: a uid-65534 client against root's lease, with and without the admin group. */
class ControlPlaneAuthzTest {

    ControlPlane cp;
    Lease rootLease;

    @BeforeEach
    void start() throws Exception {
        cp = new ControlPlane();
        rootLease = cp.leases.acquire(new Caller((int) ProcessHandle.current().pid(), 0, 0), List.of("0000:06:00.0"), null, 0).getKey();
    }

    @AfterEach
    void stop() throws IOException {
        cp.close();
    }

    private List<String> runClient(Path sock) throws Exception {
        Path cpath = ChildClassPath.worldReadable();
        Process p = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
                "-Dlogback.configurationFile=vfio-broker-cli-logback.xml", "-cp", cpath + "/*:" + cpath + "/classes",
                AuthzClientMain.class.getName(), sock.toString(), rootLease.id()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines()
                    .filter(l -> l.matches("[A-Z_]+ .*")).toList();
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void aClientSeesAndEndsOnlyItsOwnLeasesAndCannotReloadOrExplainOthers() throws Exception {
        List<String> out = runClient(cp.serveGrpc(Authz.rootOnly()));
        assertThat(out).containsExactly(
                "LIST OK 0",
                "GET_OTHER NOT_FOUND LEASE_NOT_FOUND",
                "RELOAD PERMISSION_DENIED ADMIN_REQUIRED",
                "EXPLAIN_OTHER PERMISSION_DENIED ADMIN_REQUIRED",
                "EXPLAIN_SELF OK nobody-vfs",
                "ACQUIRE OK 65534",
                "LIST_AFTER OK 1",
                "RELEASE_OTHER PERMISSION_DENIED NOT_LEASE_HOLDER");
        assertThat(cp.leases.get(rootLease.id()).orElseThrow().state()).isNotEqualTo(Lease.State.ENDED);
    }

    @Test
    void aMemberOfTheAdminGroupMayListReloadAndRevoke() throws Exception {
        List<String> out = runClient(cp.serveGrpc(new Authz("65534")));
        assertThat(out).contains("LIST OK 1", "GET_OTHER OK " + rootLease.id(), "RELOAD OK POLICY_LOAD_STATE_LOADED", "EXPLAIN_OTHER OK true",
                "LIST_AFTER OK 2", "RELEASE_OTHER OK revoked by admin");
        assertThat(cp.leases.get(rootLease.id()).orElseThrow().endReason()).isEqualTo("revoked by admin");
    }
}
