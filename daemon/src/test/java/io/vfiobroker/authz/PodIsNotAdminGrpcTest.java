package io.vfiobroker.authz;

import io.vfiobroker.controlplane.ControlPlane;
import io.vfiobroker.grpc.Authz;
import io.vfiobroker.lease.AuthzClientMain;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.lease.ChildClassPath;
import io.vfiobroker.lease.Lease;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A pod's view over the real gRPC socket: uid 0 in its own pid namespace (unshare) is a client, not host root. */
class PodIsNotAdminGrpcTest {

    ControlPlane cp;
    Lease rootLease;

    @BeforeEach
    void start() throws Exception {
        cp = new ControlPlane();
        rootLease = cp.leases.acquire(new Caller((int) ProcessHandle.current().pid(), 0, 0), List.of("0000:06:00.0"), null, 0).getKey();
    }

    @AfterEach
    void stop() throws Exception {
        cp.close();
    }

    private List<String> runClient(List<String> prefix, Path sock) throws Exception {
        Path cpath = ChildClassPath.worldReadable();
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
                "-Dlogback.configurationFile=vfio-broker-cli-logback.xml", "-cp", cpath + "/*:" + cpath + "/classes",
                AuthzClientMain.class.getName(), sock.toString(), rootLease.id()));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            assertThat(p.waitFor(90, TimeUnit.SECONDS)).isTrue();
            return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().filter(l -> l.matches("[A-Z_]+ .*")).toList();
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void rootInItsOwnPidNamespaceCannotListReloadOrRevoke() throws Exception {
        Path sock = cp.serveGrpc(Authz.rootOnly());
        List<String> out = runClient(List.of("unshare", "--pid", "--fork", "--mount-proc"), sock);
        assertThat(out).contains("LIST OK 0", "RELOAD PERMISSION_DENIED ADMIN_REQUIRED", "LIST_AFTER OK 0");
        assertThat(out).anyMatch(l -> l.startsWith("GET_OTHER NOT_FOUND"));
        assertThat(out).anyMatch(l -> l.startsWith("RELEASE_OTHER PERMISSION_DENIED"));
        assertThat(cp.leases.get(rootLease.id()).orElseThrow().active()).isTrue();
    }

    @Test
    void hostRootOnTheSameSocketIsAnAdmin() throws Exception {
        Path sock = cp.serveGrpc(Authz.rootOnly());
        List<String> out = runClient(List.of(), sock);
        assertThat(out).contains("LIST OK 1", "GET_OTHER OK " + rootLease.id(), "RELOAD OK POLICY_LOAD_STATE_LOADED");
    }
}
