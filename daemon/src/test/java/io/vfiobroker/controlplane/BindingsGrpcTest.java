package io.vfiobroker.controlplane;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.netty.channel.EventLoopGroup;
import io.vfiobroker.api.v1.BindRequest;
import io.vfiobroker.api.v1.BindingPlan;
import io.vfiobroker.api.v1.BindingStatus;
import io.vfiobroker.api.v1.BindingStatusRequest;
import io.vfiobroker.api.v1.BindingsGrpc;
import io.vfiobroker.api.v1.ReleaseBindingRequest;
import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.grpc.Authz;
import io.vfiobroker.grpc.GrpcErrors;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.lease.ChildClassPath;
import io.vfiobroker.lease.Lease;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** vfiobroker.v1.Bindings over the real Unix socket, on a generated host whose simulated kernel moves driver links. */
class BindingsGrpcTest {

    static final String VF = "0000:07:02.1";   // iavf, IOMMU group 15
    static final String VF0 = "0000:07:02.0";  // iavf, IOMMU group 14
    static final String EDU = "0000:06:00.0";  // no driver, IOMMU group 11; the policy grants it to root

    ControlPlane cp;
    Path sock;
    EventLoopGroup[] group = new EventLoopGroup[1];
    ManagedChannel channel;
    BindingsGrpc.BindingsBlockingStub stub;

    @BeforeEach
    void start() throws IOException {
        cp = new ControlPlane();
        sock = cp.serveGrpc(Authz.rootOnly());
        channel = ControlPlane.channel(sock, group);
        stub = BindingsGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() throws IOException {
        channel.shutdownNow();
        group[0].shutdownGracefully();
        cp.close();
    }

    String driver(String address) {
        return cp.host.linkName("sys/bus/pci/devices/" + address + "/driver").orElse("none");
    }

    @Test
    void anAdminBindsAndReleasesAGroupAndTheDriverLinksMove() {
        BindingPlan dry = stub.bind(BindRequest.newBuilder().setAddress(VF).setDryRun(true).build());
        assertThat(dry.getDryRun()).isTrue();
        assertThat(dry.getStepsList()).extracting(s -> s.getPath()).contains("sys/bus/pci/drivers_probe");
        assertThat(driver(VF)).as("a dry run writes nothing").isEqualTo("iavf");

        BindingPlan bound = stub.bind(BindRequest.newBuilder().setAddress(VF).build());
        assertThat(bound.getGroup()).isEqualTo(15);
        assertThat(bound.getMembersList()).singleElement().satisfies(m -> {
            assertThat(m.getAddress()).isEqualTo(VF);
            assertThat(m.getDriver()).isEqualTo("iavf");
            assertThat(m.getAction()).isEqualTo("move from iavf to vfio-pci");
        });
        assertThat(driver(VF)).isEqualTo("vfio-pci");
        BindingStatus st = stub.status(BindingStatusRequest.getDefaultInstance());
        assertThat(st.getDevicesList()).singleElement().satisfies(d -> {
            assertThat(d.getAddress()).isEqualTo(VF);
            assertThat(d.getGroup()).isEqualTo(15);
            assertThat(d.getOriginalDriver()).isEqualTo("iavf");
        });
        // Who asked is on record: the SO_PEERCRED uid and pid of this process.
        List<AuditLog.Record> audit = cp.audit.readAll();
        assertThat(audit).filteredOn(r -> r.event().equals("binding-bound")).singleElement()
                .satisfies(r -> assertThat(r.fields().get("by")).isEqualTo("uid 0 (pid " + ProcessHandle.current().pid() + ")"));

        BindingPlan released = stub.release(ReleaseBindingRequest.newBuilder().setGroup(15).build());
        assertThat(released.getOperation()).isEqualTo("release");
        assertThat(driver(VF)).isEqualTo("iavf");
        assertThat(stub.status(BindingStatusRequest.getDefaultInstance()).getDevicesList()).isEmpty();
    }

    @Test
    void theDaemonsBindingDenyRuleRefusesABindAndNothingMoves() throws IOException {
        Files.writeString(cp.policy.source(), ControlPlane.POLICY.replace("version: 1\n", """
                version: 1
                binding:
                  deny:
                    - vendorDevice: "8086:154c"
                """));
        cp.policy.reload();
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> stub.bind(BindRequest.newBuilder().setAddress(VF).build()));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(e.getStatus().getDescription()).contains("binding.deny[0]").contains(VF);
        assertThat(GrpcErrors.info(e.getStatus(), e.getTrailers()).getReason()).isEqualTo("PRECONDITION");
        assertThat(driver(VF)).isEqualTo("iavf");
        assertThat(cp.binding.status()).isEmpty();
    }

    @Test
    void releasingAGroupALeaseUsesIsRefusedNamingTheLease() {
        Lease lease = cp.leases.acquire(new Caller((int) ProcessHandle.current().pid(), 0, 0), List.of(EDU), null, 0).getKey();
        assertThat(driver(EDU)).isEqualTo("vfio-pci");
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> stub.release(ReleaseBindingRequest.newBuilder().setAddress(EDU).build()));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(e.getStatus().getDescription()).contains("IOMMU group 11 is in use by lease " + lease.id());
        assertThat(GrpcErrors.info(e.getStatus(), e.getTrailers()).getMetadataMap()).containsEntry("lease", lease.id());
        assertThat(driver(EDU)).isEqualTo("vfio-pci");
        assertThat(cp.leases.get(lease.id()).orElseThrow().state()).isNotEqualTo(Lease.State.ENDED);
    }

    @Test
    void aNonAdminCallerIsRefusedNamingItsUidAndNothingChanges() throws Exception {
        stub.bind(BindRequest.newBuilder().setAddress(VF0).build()); // something a Release could take back
        List<String> journalBefore = Files.readAllLines(cp.binding.journal().file());

        List<String> out = child(BindingsClientMain.class.getName(), sock.toString(), VF, "14");

        assertThat(out).hasSize(3);
        assertThat(out).allSatisfy(l -> assertThat(l).contains("PERMISSION_DENIED ADMIN_REQUIRED uid=65534")
                .contains("uid 65534 is not an admin"));
        assertThat(out.get(0)).startsWith("BIND ");
        assertThat(driver(VF)).isEqualTo("iavf");
        assertThat(driver(VF0)).isEqualTo("vfio-pci");
        assertThat(Files.readAllLines(cp.binding.journal().file())).isEqualTo(journalBefore);
    }

    @Test
    void theCliOfANonAdminPrintsTheDaemonsRefusalAndDoesNotGoOffline() throws Exception {
        Process p = start("io.vfiobroker.cli.Main", "bind", VF, "--root", cp.root.toString(), "--run-dir", sock.getParent().toString(),
                "--simulate-kernel", "--policy", cp.dir.resolve("no-policy.yaml").toString());
        String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String stderr = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(stdout + stderr).isEqualTo(1);
        assertThat(stderr).contains("the daemon at " + sock).contains("PERMISSION_DENIED").contains("uid 65534 is not an admin");
        assertThat(stdout + stderr).doesNotContain("offline");
        assertThat(driver(VF)).isEqualTo("iavf");
        assertThat(cp.binding.status()).isEmpty();
    }

    private static Process start(String main, String... args) throws IOException {
        Path cpath = ChildClassPath.worldReadable();
        List<String> cmd = new java.util.ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
                "-Dlogback.configurationFile=vfio-broker-cli-logback.xml", "-cp", cpath + "/*:" + cpath + "/classes", main));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("VFIO_BROKER_SOCKET");
        return pb.start();
    }

    private static List<String> child(String main, String... args) throws Exception {
        Process p = start(main, args);
        p.getErrorStream().transferTo(System.err);
        try {
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines()
                    .filter(l -> l.matches("[A-Z]+ .*")).toList();
        } finally {
            p.destroyForcibly();
        }
    }
}
