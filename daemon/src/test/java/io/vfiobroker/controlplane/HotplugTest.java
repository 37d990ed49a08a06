package io.vfiobroker.controlplane;

import io.vfiobroker.events.BrokerEvent;
import io.vfiobroker.events.EventBus;
import io.vfiobroker.events.Published;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.lease.Lease;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static io.vfiobroker.controlplane.ControlPlane.pci;
import static io.vfiobroker.controlplane.ControlPlane.uevent;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Hotplug on the generated demo host: sysfs changes first (as the kernel makes them), then the uevent the kernel
 * would send, parsed from its wire form and handled by the production handler.
 */
class HotplugTest {

    static final String VF = "0000:07:02.0";
    static final int NOBODY = 65534;
    ControlPlane cp;
    EventBus.Subscription events;

    @BeforeEach
    void start() throws Exception {
        cp = new ControlPlane();
        events = cp.bus.subscribe("test", null);
    }

    @AfterEach
    void stop() throws Exception {
        cp.close();
    }

    private List<BrokerEvent> drain() throws InterruptedException {
        List<BrokerEvent> out = new ArrayList<>();
        for (Published p; (p = events.next(Duration.ofMillis(50))) != null; ) out.add(p.event());
        return out;
    }

    private Caller nobody() {
        // A live pid (this JVM) so the lease's process watch holds; uid 65534 as the policy grants.
        return new Caller((int) ProcessHandle.current().pid(), NOBODY, NOBODY);
    }

    @Test
    void unbindAndBindUeventsUpdateTheCachedDriverAndArePublished() throws Exception {
        assertThat(cp.cache.device(pci(VF)).orElseThrow().driver()).isEqualTo("iavf");
        cp.host.write("sys/bus/pci/drivers/iavf/unbind", VF);
        assertThat(cp.hotplug.handle(uevent("unbind", VF))).singleElement().isInstanceOfSatisfying(BrokerEvent.DeviceChanged.class, d -> {
            assertThat(d.type()).isEqualTo("driver-unbound");
            assertThat(d.address()).isEqualTo(VF);
            assertThat(d.source()).isEqualTo("uevent");
        });
        assertThat(cp.cache.device(pci(VF)).orElseThrow().driver()).isNull();
        cp.host.write("sys/bus/pci/drivers/iavf/bind", VF);
        assertThat(cp.hotplug.handle(uevent("bind", VF, "DRIVER=iavf"))).singleElement()
                .satisfies(e -> assertThat(((BrokerEvent.DeviceChanged) e).driver()).isEqualTo("iavf"));
        // The same uevent again changes nothing, so nothing is published.
        assertThat(cp.hotplug.handle(uevent("bind", VF, "DRIVER=iavf"))).isEmpty();
        assertThat(drain()).extracting(BrokerEvent::type).containsExactly("driver-unbound", "driver-bound");
    }

    @Test
    void aLeasedDeviceThatDisappearsEndsItsLeaseWithTheReason() throws Exception {
        Lease lease = cp.leases.acquire(nobody(), List.of(VF), null, 0).getKey();
        cp.unplug(VF);
        List<BrokerEvent> published = cp.hotplug.handle(uevent("remove", VF));
        assertThat(published).singleElement().isInstanceOfSatisfying(BrokerEvent.DeviceChanged.class, d -> {
            assertThat(d.type()).isEqualTo("device-removed");
            assertThat(d.endedLeases()).containsExactly(lease.id());
        });
        // Taken back: ENDING at once (the holder is told), ENDED once nothing holds it.
        assertThat(cp.leases.get(lease.id()).orElseThrow().state()).isIn(Lease.State.ENDING, Lease.State.ENDED);
        assertThat(cp.leases.awaitEnded(lease.id(), java.time.Duration.ofSeconds(20))).isTrue();
        Lease ended = cp.leases.get(lease.id()).orElseThrow();
        assertThat(ended.state()).isEqualTo(Lease.State.ENDED);
        assertThat(ended.endReason()).isEqualTo("device " + VF + " was removed from the host (kernel uevent remove /devices/pci0000:00/" + VF + ")");
        assertThat(cp.cache.device(pci(VF))).isEmpty();
        assertThat(cp.leases.active()).isEmpty();
        // Subscribers saw the lease being taken back before the removal that caused it, and its end after.
        assertThat(drain()).extracting(BrokerEvent::type).containsSubsequence("lease-granted", "lease-ending", "device-removed", "lease-ended");
        assertThat(cp.audit.readAll()).anySatisfy(r -> {
            assertThat(r.event()).isEqualTo("lease-ended");
            assertThat(r.fields().get("reason").toString()).contains("was removed from the host");
        });
    }

    @Test
    void anAddedDeviceIsReadAloneAndPublished() throws Exception {
        Path link = cp.root.resolve("sys/bus/pci/devices/" + VF);
        Path target = Files.readSymbolicLink(link);
        Files.delete(link);
        cp.hotplug.handle(uevent("remove", VF));
        assertThat(cp.cache.device(pci(VF))).isEmpty();
        Files.createSymbolicLink(link, target);
        assertThat(cp.hotplug.handle(uevent("add", VF))).singleElement().satisfies(e -> {
            assertThat(e.type()).isEqualTo("device-added");
            assertThat(((BrokerEvent.DeviceChanged) e).vendorDevice()).isEqualTo("8086:154c");
        });
        assertThat(cp.cache.device(pci(VF)).orElseThrow().iommuGroup()).isNotNull();
        assertThat(cp.cache.groups()).anySatisfy(g -> assertThat(g.devices()).contains(pci(VF)));
    }

    @Test
    void lowerSriovNumVfsRemovesTheVanishedVfsOnTheChangeUevent() throws Exception {
        String pf = "0000:07:00.0";
        Lease lease = cp.leases.acquire(nobody(), List.of("0000:07:02.3"), null, 0).getKey();
        Path pfDir = cp.root.resolve("sys/bus/pci/devices/" + pf).toRealPath();
        // What the kernel does for `echo 2 > sriov_numvfs` after 4: VFs 2 and 3 go, the count and links follow.
        for (String vf : List.of("0000:07:02.2", "0000:07:02.3")) cp.unplug(vf);
        Files.delete(pfDir.resolve("virtfn2"));
        Files.delete(pfDir.resolve("virtfn3"));
        Files.writeString(pfDir.resolve("sriov_numvfs"), "2\n");
        List<BrokerEvent> published = cp.hotplug.handle(uevent("change", pf));
        assertThat(published).extracting(BrokerEvent::type).containsExactly("sriov-changed", "device-removed", "device-removed");
        assertThat(((BrokerEvent.DeviceChanged) published.get(0)).numVfs()).isEqualTo(2);
        assertThat(cp.cache.virtualFunctionsOf(pci(pf))).containsExactly(pci("0000:07:02.0"), pci("0000:07:02.1"));
        assertThat(cp.leases.get(lease.id()).orElseThrow().endReason()).contains("0000:07:02.3 was removed");
    }

    @Test
    void otherSubsystemsAndOddNamesAreIgnored() {
        byte[] b = "add@/devices/virtual/net/lo\0ACTION=add\0DEVPATH=/devices/virtual/net/lo\0SUBSYSTEM=net\0".getBytes();
        assertThat(cp.hotplug.handle(io.vfiobroker.nativeshim.Uevent.parse(b, b.length))).isEmpty();
        assertThat(cp.hotplug.handle(uevent("add", "../../etc"))).isEmpty();
    }

    @Test
    void theDaemonsOwnBindIsSeenAsADriverChangeWithoutAUevent() throws Exception {
        cp.binding.bind(pci(VF), false);
        List<BrokerEvent> got = drain();
        assertThat(got).anySatisfy(e -> {
            assertThat(e).isInstanceOf(BrokerEvent.DeviceChanged.class);
            assertThat(((BrokerEvent.DeviceChanged) e).driver()).isEqualTo("vfio-pci");
            assertThat(((BrokerEvent.DeviceChanged) e).source()).isEqualTo("binding");
        });
        assertThat(got).anySatisfy(e -> assertThat(e.type()).isEqualTo("bind"));
        assertThat(cp.cache.device(pci(VF)).orElseThrow().driver()).isEqualTo("vfio-pci");
        // The kernel's bind uevent arriving afterwards on a real host changes nothing more.
        assertThat(cp.hotplug.handle(uevent("bind", VF, "DRIVER=vfio-pci"))).isEmpty();
    }
}
