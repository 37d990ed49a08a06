package io.vfiobroker.controlplane;

import com.google.rpc.ErrorInfo;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.vfiobroker.api.v1.AccountingGrpc;
import io.vfiobroker.api.v1.AcquireRequest;
import io.vfiobroker.api.v1.AcquireResponse;
import io.vfiobroker.api.v1.DeviceState;
import io.vfiobroker.api.v1.Event;
import io.vfiobroker.api.v1.EventKind;
import io.vfiobroker.api.v1.EventsGrpc;
import io.vfiobroker.api.v1.ExplainRequest;
import io.vfiobroker.api.v1.GetDeviceRequest;
import io.vfiobroker.api.v1.GetMemlockRequest;
import io.vfiobroker.api.v1.InventoryGrpc;
import io.vfiobroker.api.v1.LeasesGrpc;
import io.vfiobroker.api.v1.ListDevicesRequest;
import io.vfiobroker.api.v1.ListGroupsRequest;
import io.vfiobroker.api.v1.ListIommuUnitsRequest;
import io.vfiobroker.api.v1.ListLeasesRequest;
import io.vfiobroker.api.v1.MemlockReport;
import io.vfiobroker.api.v1.PolicyGrpc;
import io.vfiobroker.api.v1.PolicyLoadState;
import io.vfiobroker.api.v1.ReleaseRequest;
import io.vfiobroker.api.v1.ReloadPolicyRequest;
import io.vfiobroker.api.v1.WatchMemlockRequest;
import io.vfiobroker.api.v1.WatchRequest;
import io.vfiobroker.grpc.GrpcErrors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** The vfiobroker.v1 services over a real Unix socket with SO_PEERCRED; this JVM is the (root) client. */
class ControlPlaneGrpcTest {

    static final String VF = "0000:07:02.0";
    static final String EDU = "0000:06:00.0";
    ControlPlane cp;
    ManagedChannel channel;
    final EventLoopGroup[] group = new EventLoopGroup[1];

    @BeforeEach
    void start() throws Exception {
        cp = new ControlPlane();
        Path sock = cp.serveGrpc(cp.authz());
        channel = ControlPlane.channel(sock, group);
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow().awaitTermination(2, TimeUnit.SECONDS);
        group[0].shutdownGracefully();
        cp.close();
    }

    static ErrorInfo info(StatusRuntimeException e) {
        return GrpcErrors.info(e.getStatus(), e.getTrailers());
    }

    @Test
    void inventoryFiltersDevicesAndListsGroupsAndUnits() {
        InventoryGrpc.InventoryBlockingStub inv = InventoryGrpc.newBlockingStub(channel);
        assertThat(inv.listDevices(ListDevicesRequest.newBuilder().setVendorDevice("8086:154c").build()).getDevicesList())
                .hasSize(8).allSatisfy(d -> {
                    assertThat(d.getDriver()).isEqualTo("iavf");
                    assertThat(d.getState()).isEqualTo(DeviceState.DEVICE_STATE_HOST_DRIVER);
                    assertThat(d.hasIommuGroup()).isTrue();
                });
        assertThat(inv.listDevices(ListDevicesRequest.newBuilder().setPhysicalFunction("0000:07:00.0").build()).getDevicesList())
                .extracting(io.vfiobroker.api.v1.Device::getAddress).containsExactly("0000:07:02.0", "0000:07:02.1", "0000:07:02.2", "0000:07:02.3");
        assertThat(inv.listDevices(ListDevicesRequest.newBuilder().setDriver("none").setVendorDevice("1234:11e8").build()).getDevicesList())
                .singleElement().satisfies(d -> assertThat(d.getState()).isEqualTo(DeviceState.DEVICE_STATE_NO_DRIVER));
        assertThat(inv.getDevice(GetDeviceRequest.newBuilder().setAddress("0000:07:00.0").build()).getSriov().getNumVfs()).isEqualTo(4);
        assertThat(inv.listGroups(ListGroupsRequest.getDefaultInstance()).getGroupsCount()).isGreaterThan(10);
        assertThat(inv.listIommuUnits(ListIommuUnitsRequest.getDefaultInstance()).getUnitsList()).isNotEmpty();

        StatusRuntimeException bad = catchThrowableOfType(StatusRuntimeException.class,
                () -> inv.getDevice(GetDeviceRequest.newBuilder().setAddress("0000:07:02.0/../../x").build()));
        assertThat(bad.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.INVALID_ARGUMENT);
        assertThat(info(bad).getReason()).isEqualTo("INVALID_REQUEST");
        assertThat(info(bad).getMetadataMap()).containsEntry("field", "address");
        StatusRuntimeException missing = catchThrowableOfType(StatusRuntimeException.class,
                () -> inv.getDevice(GetDeviceRequest.newBuilder().setAddress("0000:7f:00.0").build()));
        assertThat(missing.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.NOT_FOUND);
        assertThat(info(missing).getReason()).isEqualTo("DEVICE_NOT_FOUND");
        assertThat(info(missing).getMetadataMap()).containsEntry("device", "0000:7f:00.0");
    }

    @Test
    void aPolicyRefusalCarriesReasonDeviceAndRule_hostileRequestsAreInvalidAndChangeNothing() {
        LeasesGrpc.LeasesBlockingStub leases = LeasesGrpc.newBlockingStub(channel);
        StatusRuntimeException denied = catchThrowableOfType(StatusRuntimeException.class,
                () -> leases.acquire(AcquireRequest.newBuilder().addDevices(VF).build()));
        assertThat(denied.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.PERMISSION_DENIED);
        ErrorInfo i = info(denied);
        assertThat(i.getDomain()).isEqualTo("vfio-broker.io");
        assertThat(i.getReason()).isEqualTo("POLICY_DENIED");
        assertThat(i.getMetadataMap()).containsEntry("device", VF).containsEntry("rule", "default-deny");

        for (AcquireRequest hostile : new AcquireRequest[]{
                AcquireRequest.newBuilder().addDevices("0000:07:02.0/../../../etc").build(),
                AcquireRequest.newBuilder().addDevices("0".repeat(60_000)).build(),
                AcquireRequest.newBuilder().addDevices(EDU).setMemlockBytes(-1).build(),
                AcquireRequest.newBuilder().build()}) {
            StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> leases.acquire(hostile));
            assertThat(e.getStatus().getCode()).as(hostile.toString().substring(0, Math.min(80, hostile.toString().length())))
                    .isEqualTo(io.grpc.Status.Code.INVALID_ARGUMENT);
            assertThat(info(e).getReason()).isEqualTo("INVALID_REQUEST");
        }
        StatusRuntimeException longId = catchThrowableOfType(StatusRuntimeException.class,
                () -> leases.release(ReleaseRequest.newBuilder().setLeaseId("x".repeat(1000)).build()));
        assertThat(longId.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.INVALID_ARGUMENT);
        assertThat(cp.leases.active()).isEmpty();
        assertThat(cp.cache.device(ControlPlane.pci(EDU)).orElseThrow().driver()).isNull();
        // Every refusal was counted by outcome and reason.
        assertThat(cp.registry.find("vfio_broker_acquire").tags("outcome", "permission_denied", "reason", "policy_denied").timer().count()).isEqualTo(1);
        assertThat(cp.registry.find("vfio_broker_acquire").tags("outcome", "invalid_argument").timer().count()).isEqualTo(4);
    }

    @Test
    void watchStreamsLeaseBindingAndPolicyEventsAsTheyHappen() throws Exception {
        BlockingQueue<Event> got = new LinkedBlockingQueue<>();
        EventsGrpc.newStub(channel).watch(WatchRequest.newBuilder().addKinds(EventKind.EVENT_KIND_LEASE).addKinds(EventKind.EVENT_KIND_DEVICE)
                .addKinds(EventKind.EVENT_KIND_POLICY).build(), new StreamObserver<>() {
            public void onNext(Event e) {
                got.add(e);
            }

            public void onError(Throwable t) {
            }

            public void onCompleted() {
            }
        });
        waitForWatchers(1);
        AcquireResponse r = LeasesGrpc.newBlockingStub(channel).acquire(AcquireRequest.newBuilder().addDevices(EDU).build());
        Event bound = next(got, "driver-bound");
        assertThat(bound.getDevice().getAddress()).isEqualTo(EDU);
        assertThat(bound.getDevice().getDriver()).isEqualTo("vfio-pci");
        Event pending = next(got, "lease-granted");
        assertThat(pending.getLease().getId()).isEqualTo(r.getLease().getId());
        assertThat(pending.getSeq()).isGreaterThan(bound.getSeq());

        assertThat(PolicyGrpc.newBlockingStub(channel).reload(ReloadPolicyRequest.getDefaultInstance()).getState())
                .isEqualTo(PolicyLoadState.POLICY_LOAD_STATE_LOADED);
        assertThat(next(got, "policy-loaded").getPolicy().getActiveRules()).isEqualTo(2);

        LeasesGrpc.newBlockingStub(channel).release(ReleaseRequest.newBuilder().setLeaseId(r.getLease().getId()).build());
        // The device is restored (unbound: edu had no driver) before the lease is reported ended.
        assertThat(next(got, "driver-unbound").getDevice().getAddress()).isEqualTo(EDU);
        assertThat(next(got, "lease-ended").getLease().getEndReason()).isEqualTo("released by holder");
    }

    @Test
    void accountingReportsTheLeaseAndWatchMemlockStreams() throws Exception {
        AcquireResponse r = LeasesGrpc.newBlockingStub(channel).acquire(AcquireRequest.newBuilder().addDevices(EDU).build());
        MemlockReport rep = AccountingGrpc.newBlockingStub(channel).getMemlock(GetMemlockRequest.getDefaultInstance());
        assertThat(rep.getLeasesList()).singleElement().satisfies(l -> {
            assertThat(l.getLeaseId()).isEqualTo(r.getLease().getId());
            assertThat(l.getPid()).isEqualTo((int) ProcessHandle.current().pid());
            assertThat(l.getLimitBytes()).isEqualTo(4L << 20);
            assertThat(l.getProcessAlive()).isTrue();
        });
        assertThat(rep.getHost().getLeases()).isEqualTo(1);

        cp.accounting.start(Duration.ofMillis(100));
        java.util.Iterator<MemlockReport> it = AccountingGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                .watchMemlock(WatchMemlockRequest.newBuilder().setIntervalMs(100).build());
        long t0 = System.nanoTime();
        for (int i = 0; i < 3; i++) assertThat(it.next().getLeasesCount()).isEqualTo(1);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
        assertThat(LeasesGrpc.newBlockingStub(channel).list(ListLeasesRequest.getDefaultInstance()).getLeasesCount()).isEqualTo(1);
        LeasesGrpc.newBlockingStub(channel).release(ReleaseRequest.newBuilder().setLeaseId(r.getLease().getId()).build());
    }

    @Test
    void explainForOneselfNeedsNoAdmin() {
        var e = PolicyGrpc.newBlockingStub(channel).explain(ExplainRequest.newBuilder().setAddress(EDU).build());
        assertThat(e.getAllowed()).isTrue();
        assertThat(e.getRule()).isEqualTo("root-edu");
        assertThat(e.getLimits().getMemlockBytesPerLease()).isEqualTo(4L << 20);
        assertThat(e.getChainList()).extracting(x -> x.getRule()).containsExactly("nobody-vfs", "root-edu");
    }

    private void waitForWatchers(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (cp.bus.subscriberCount() < n && System.nanoTime() < deadline) Thread.sleep(5);
        assertThat(cp.bus.subscriberCount()).isEqualTo(n);
    }

    static Event next(BlockingQueue<Event> q, String type) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            Event e = q.poll(100, TimeUnit.MILLISECONDS);
            if (e != null && e.getType().equals(type)) return e;
        }
        throw new AssertionError("no " + type + " event");
    }
}
