package io.vfiobroker.binding;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BindingServiceTest {

    @TempDir
    Path dir;
    Path root;
    SysfsHost host;
    InventoryScanner scanner;
    BindingRules rules = BindingRules.DEFAULT;

    private BindingService service(HostSpec spec) {
        root = HostTreeGenerator.generate(spec, dir.resolve("host"));
        host = new SimulatedKernelHost(root);
        return restart(host);
    }

    /** A new service over the same tree and journal: what a daemon restart sees. */
    private BindingService restart(SysfsHost h) {
        scanner = new InventoryScanner(h, PciIds.empty());
        return new BindingService(h, scanner, new Journal(dir.resolve("state")), () -> rules);
    }

    private Device dev(String a) {
        return scanner.device(PciAddress.parse(a)).orElseThrow();
    }

    private Device firstVf() {
        return scanner.scan().devices().stream().filter(Device::isVirtualFunction).findFirst().orElseThrow();
    }

    @Test
    void bindingAVfMovesItToVfioPciAndReleaseRestoresTheOriginalDriver() {
        BindingService s = service(HostSpec.sriovScale(1, 2));
        Device vf = firstVf();
        s.bind(vf.address(), false);
        Device bound = dev(vf.address().toString());
        assertThat(bound.driver()).isEqualTo("vfio-pci");
        assertThat(bound.driverOverride()).isEqualTo("vfio-pci");
        assertThat(root.resolve("dev/vfio/" + vf.iommuGroup())).exists();
        assertThat(s.status()).containsKey(vf.address());
        assertThat(s.status().get(vf.address()).originalDriver()).isEqualTo("iavf");

        s.release(vf.iommuGroup(), true, false);
        Device back = dev(vf.address().toString());
        assertThat(back.driver()).isEqualTo("iavf");
        assertThat(back.driverOverride()).isNull();
        assertThat(root.resolve("dev/vfio/" + vf.iommuGroup())).doesNotExist();
        assertThat(s.status()).isEmpty();
    }

    @Test
    void bindingASharedGroupBindsEverySibling() {
        BindingService s = service(HostSpec.sriovScale(1, 3).withLayout(HostSpec.GroupLayout.SHARED));
        Device vf = firstVf();
        BindingPlan plan = s.bind(vf.address(), false);
        assertThat(plan.members()).hasSize(4);
        for (BindingPlan.Member m : plan.members()) assertThat(dev(m.address().toString()).driver()).isEqualTo("vfio-pci");
        assertThat(scanner.scan().group(vf.iommuGroup()).orElseThrow().viable()).isTrue();
        s.release(vf.iommuGroup(), true, false);
        Device pf = dev(dev(vf.address().toString()).physicalFunction().toString());
        assertThat(pf.driver()).isEqualTo("i40e");
    }

    @Test
    void aGroupPassedDownThatNoLongerHoldsTheDeviceIsRefusedWithNothingBound() {
        BindingService s = service(HostSpec.sriovScale(1, 2));
        List<Device> vfs = scanner.scan().devices().stream().filter(d -> d.physicalFunction() != null).toList();
        Device vf = vfs.get(0);
        Device other = vfs.get(1);
        assertThatThrownBy(() -> s.bind(other.iommuGroup(), vf.address()))
                .isInstanceOf(BindingException.class)
                .hasMessageContaining(vf.address() + " is not in IOMMU group " + other.iommuGroup());
        assertThat(dev(vf.address().toString()).driver()).isEqualTo("iavf");
        assertThat(dev(other.address().toString()).driver()).isEqualTo("iavf");
        assertThat(s.status()).isEmpty();
    }

    /** The caller's read is stale once a bind ran after it: planning from it would unbind iavf from a device now on vfio-pci. */
    @Test
    void aGroupReadTakenBeforeABindRanIsReadAgainUnderTheLock() {
        BindingService s = service(HostSpec.sriovScale(1, 2));
        Device vf = firstVf();
        GroupRead read = new GroupRead(vf.iommuGroup(), List.of(vf), s.changes());
        s.bind(vf.address(), false);
        s.release(vf.iommuGroup(), false, false); // kept on vfio-pci, no longer ours

        BindingPlan plan = s.bind(read, vf.address());
        assertThat(plan.steps()).isEmpty();
        assertThat(plan.members()).singleElement().satisfies(m -> assertThat(m.action()).isEqualTo("already on vfio-pci"));
    }

    /** A read whose group no longer lists the same members is not planned from: the member it lacks is bound too. */
    @Test
    void aGroupReadMissingAMemberIsReadAgainAndTheWholeGroupIsBound() {
        BindingService s = service(HostSpec.sriovScale(1, 3).withLayout(HostSpec.GroupLayout.SHARED));
        Device vf = firstVf();
        BindingPlan plan = s.bind(new GroupRead(vf.iommuGroup(), List.of(vf), s.changes()), vf.address());
        assertThat(plan.members()).hasSize(4);
        for (BindingPlan.Member m : plan.members()) assertThat(dev(m.address().toString()).driver()).isEqualTo("vfio-pci");
    }

    /** A current read is planned from as given: its facts are the plan's, not a second read's. */
    @Test
    void aCurrentGroupReadIsPlannedFromItsOwnFacts() {
        BindingService s = service(HostSpec.sriovScale(1, 2));
        Device vf = firstVf();
        // The read says the device has no driver: a plan from it has no unbind step (the driver it names is iavf on disk).
        Device asRead = new Device(vf.address(), vf.vendorId(), vf.deviceId(), vf.subsystemVendorId(), vf.subsystemDeviceId(), vf.pciClass(),
                vf.vendorName(), vf.deviceName(), null, vf.driverOverride(), vf.numaNode(), vf.resetMethods(), vf.bootVga(), vf.iommuGroup(),
                vf.iommuUnit(), vf.sriov(), vf.physicalFunction());
        BindingPlan dry = s.planBindGroup(vf.iommuGroup(), vf.address());
        assertThat(dry.steps()).extracting(SysfsStep::action).contains("unbind from iavf");
        assertThatThrownBy(() -> s.bind(new GroupRead(vf.iommuGroup(), List.of(asRead), s.changes()), vf.address()))
                .isInstanceOf(BindingException.class).hasMessageContaining("did not bind to vfio-pci");
        assertThat(dev(vf.address().toString()).driver()).isEqualTo("iavf");
        assertThat(s.status()).isEmpty();
    }

    @Test
    void aBridgeInTheGroupIsLeftOnItsPortDriver() {
        BindingService s = service(HostSpec.sriovScale(1, 0).withLayout(HostSpec.GroupLayout.BRIDGE));
        Device pf = scanner.scan().devices().stream().filter(d -> d.sriov() != null).findFirst().orElseThrow();
        BindingPlan plan = s.bind(pf.address(), false);
        assertThat(plan.members()).anySatisfy(m -> assertThat(m.action()).contains("PCI bridge"));
        assertThat(scanner.scan().group(pf.iommuGroup()).orElseThrow().viable()).isTrue();
    }

    @Test
    void dryRunPrintsTheExactWritesAndChangesNothing() throws IOException {
        BindingService s = service(HostSpec.sriovScale(1, 1));
        Device vf = firstVf();
        BindingPlan plan = s.bind(vf.address(), true);
        assertThat(plan.steps()).extracting(SysfsStep::path).containsExactly(
                "sys/bus/pci/devices/" + vf.address() + "/driver_override",
                "sys/bus/pci/devices/" + vf.address() + "/driver/unbind",
                "sys/bus/pci/drivers_probe");
        assertThat(dev(vf.address().toString()).driver()).isEqualTo("iavf");
        assertThat(s.status()).isEmpty();
        assertThat(Files.exists(dir.resolve("state/binding-journal.jsonl"))).isFalse();
    }

    @Test
    void theBootDiskIsRefusedWithTheRuleAndTheMount() {
        BindingService s = service(HostSpec.demo());
        assertThatThrownBy(() -> s.bind(PciAddress.parse("0000:01:00.0"), false))
                .isInstanceOf(BindingException.class)
                .satisfies(e -> assertThat(((BindingException) e).refused()).isTrue())
                .hasMessageContaining("0000:01:00.0 backs / (nvme0n1p2)")
                .hasMessageContaining("rule boot-disk");
        assertThat(dev("0000:01:00.0").driver()).isEqualTo("nvme");
    }

    @Test
    void theActiveNicAndTheConsoleVgaAreRefused() {
        BindingService s = service(HostSpec.demo());
        assertThatThrownBy(() -> s.bind(PciAddress.parse("0000:03:00.0"), false))
                .hasMessageContaining("eno1, which is up and carries routes").hasMessageContaining("rule active-nic");
        assertThatThrownBy(() -> s.bind(PciAddress.parse("0000:04:00.0"), false))
                .hasMessageContaining("console VGA (boot_vga=1)").hasMessageContaining("rule console-vga");
    }

    @Test
    void aDeviceSharingAGroupWithAProtectedOneIsRefusedNamingBoth() throws IOException {
        BindingService s = service(HostSpec.demo());
        // The GPU drives the console: its HDMI audio function shares group 9 with it.
        Path vga = root.resolve("sys/bus/pci/devices/0000:05:00.0/boot_vga");
        Files.writeString(vga, "1\n");
        assertThatThrownBy(() -> s.bind(PciAddress.parse("0000:05:00.1"), false))
                .hasMessageContaining("0000:05:00.1 is in IOMMU group 9 with 0000:05:00.0 is the console VGA");
        assertThat(dev("0000:05:00.1").driver()).isEqualTo("snd_hda_intel");
    }

    @Test
    void anOverrideNamingTheExactAddressAllowsAProtectedDevice() {
        rules = rules("protectedOverrides: [\"0000:02:00.0\", \"0000:04:00.0\"]");
        BindingService s = service(HostSpec.demo());
        s.bind(PciAddress.parse("0000:04:00.0"), false);
        assertThat(dev("0000:04:00.0").driver()).isEqualTo("vfio-pci");
    }

    @Test
    void denyWinsOverAllowAndAllowListsAreExclusive() {
        rules = rules("""
                allow:
                  - vendorDevice: "8086:154c"
                deny:
                  - class: "0300"
                  - address: "0000:07:02.1"
                """);
        BindingService s = service(HostSpec.demo());
        assertThatThrownBy(() -> s.bind(PciAddress.parse("0000:07:02.1"), false)).hasMessageContaining("matches binding.deny[1]");
        assertThatThrownBy(() -> s.bind(PciAddress.parse("0000:06:00.0"), false)).hasMessageContaining("matches no binding.allow entry");
        s.bind(PciAddress.parse("0000:07:02.0"), false);
        assertThat(dev("0000:07:02.0").driver()).isEqualTo("vfio-pci");
        assertThatThrownBy(() -> rules("deny: [{address: \"../x\"}]")).hasMessageContaining("../x");
    }

    @Test
    void aFailureAtMemberThreeOfFourRollsBackTheFirstTwoAndSaysSo() throws IOException {
        BindingService s = service(HostSpec.sriovScale(1, 3).withLayout(HostSpec.GroupLayout.SHARED));
        Device pf = scanner.scan().devices().stream().filter(d -> d.sriov() != null).findFirst().orElseThrow();
        List<PciAddress> members = scanner.scan().group(pf.iommuGroup()).orElseThrow().devices();
        assertThat(members).hasSize(4);
        PciAddress third = members.get(2);
        Files.createDirectories(root.resolve(".sim/fail"));
        Files.writeString(root.resolve(".sim/fail/" + third), "drivers_probe");

        assertThatThrownBy(() -> s.bind(pf.address(), false))
                .isInstanceOf(BindingException.class)
                .hasMessageContaining("failed at " + third)
                .hasMessageContaining("drivers_probe")
                .hasMessageContaining("restored " + members.get(2) + " (iavf), " + members.get(1) + " (iavf), " + members.get(0) + " (i40e)");
        assertThat(dev(members.get(0).toString()).driver()).isEqualTo("i40e");
        assertThat(dev(members.get(1).toString()).driver()).isEqualTo("iavf");
        assertThat(dev(members.get(2).toString()).driver()).isEqualTo("iavf");
        assertThat(dev(members.get(3).toString()).driver()).isEqualTo("iavf");
        assertThat(members).allSatisfy(a -> assertThat(dev(a.toString()).driverOverride()).isNull());
        assertThat(s.status()).isEmpty();
    }

    /** Dies like a killed process would: not an exception the service catches. */
    static final class Crash extends Error {
    }

    @Test
    void aBindInterruptedByACrashIsUndoneOnRestart() {
        BindingService s = service(HostSpec.sriovScale(1, 3).withLayout(HostSpec.GroupLayout.SHARED));
        Device pf = scanner.scan().devices().stream().filter(d -> d.sriov() != null).findFirst().orElseThrow();
        AtomicInteger writes = new AtomicInteger();
        SysfsHost dying = new SimulatedKernelHost(root) {
            @Override
            public synchronized void write(String path, String value) throws IOException {
                // member 2's unbind: member 1 is on vfio-pci, member 2 has its override set and is about to lose its driver
                if (writes.incrementAndGet() == 5) throw new Crash();
                super.write(path, value);
            }
        };
        BindingService crashing = restart(dying);
        assertThatThrownBy(() -> crashing.bind(pf.address(), false)).isInstanceOf(Crash.class);
        List<PciAddress> members = scanner.scan().group(pf.iommuGroup()).orElseThrow().devices();
        assertThat(dev(members.get(0).toString()).driver()).isEqualTo("vfio-pci");

        BindingService after = restart(new SimulatedKernelHost(root));
        List<String> report = after.reconcile();
        assertThat(report).singleElement().asString().contains("interrupted bind of group " + pf.iommuGroup() + " undone");
        assertThat(dev(members.get(0).toString()).driver()).isEqualTo("i40e");
        assertThat(dev(members.get(1).toString()).driver()).isEqualTo("iavf");
        assertThat(members).allSatisfy(a -> assertThat(dev(a.toString()).driverOverride()).isNull());
        assertThat(after.status()).isEmpty();
        assertThat(after.reconcile()).isEmpty();
    }

    @Test
    void aReleaseInterruptedByACrashIsFinishedOnRestart() {
        BindingService s = service(HostSpec.sriovScale(1, 3).withLayout(HostSpec.GroupLayout.SHARED));
        Device pf = scanner.scan().devices().stream().filter(d -> d.sriov() != null).findFirst().orElseThrow();
        s.bind(pf.address(), false);
        AtomicInteger writes = new AtomicInteger();
        SysfsHost dying = new SimulatedKernelHost(root) {
            @Override
            public synchronized void write(String path, String value) throws IOException {
                if (writes.incrementAndGet() == 4) throw new Crash(); // during member 2's restore
                super.write(path, value);
            }
        };
        assertThatThrownBy(() -> restart(dying).release(pf.iommuGroup(), true, false)).isInstanceOf(Crash.class);

        BindingService after = restart(new SimulatedKernelHost(root));
        assertThat(after.reconcile()).singleElement().asString().contains("interrupted release of group " + pf.iommuGroup() + " finished");
        for (PciAddress a : scanner.scan().group(pf.iommuGroup()).orElseThrow().devices()) {
            assertThat(dev(a.toString()).driver()).isIn("i40e", "iavf");
        }
        assertThat(after.status()).isEmpty();
    }

    /** A tree whose sysfs dies (like a killed process) at write number {@code crashAt}. */
    private SysfsHost dyingAt(int crashAt) {
        AtomicInteger writes = new AtomicInteger();
        return new SimulatedKernelHost(root) {
            @Override
            public synchronized void write(String path, String value) throws IOException {
                if (writes.incrementAndGet() == crashAt) throw new Crash();
                super.write(path, value);
            }
        };
    }

    @Test
    void aCrashAfterAnySingleSysfsWriteOfABindOrReleaseIsReconciledAndNothingIsLeftDriverless() throws IOException {
        HostSpec spec = HostSpec.sriovScale(1, 3).withLayout(HostSpec.GroupLayout.SHARED);
        for (String op : List.of("bind", "release")) {
            for (int crashAt = 1; ; crashAt++) {
                java.nio.file.Path d = dir.resolve(op + "-" + crashAt);
                root = HostTreeGenerator.generate(spec, d.resolve("host"));
                Path state = d.resolve("state");
                InventoryScanner sc = new InventoryScanner(new SimulatedKernelHost(root), PciIds.empty());
                Device pf = sc.scan().devices().stream().filter(x -> x.sriov() != null).findFirst().orElseThrow();
                java.util.Map<PciAddress, String> original = new java.util.HashMap<>();
                for (PciAddress a : sc.scan().group(pf.iommuGroup()).orElseThrow().devices()) original.put(a, sc.device(a).orElseThrow().driver());
                if (op.equals("release")) new BindingService(new SimulatedKernelHost(root), sc, new Journal(state), () -> rules).bind(pf.address(), false);

                SysfsHost dying = dyingAt(crashAt);
                BindingService victim = new BindingService(dying, new InventoryScanner(dying, PciIds.empty()), new Journal(state), () -> rules);
                boolean crashed;
                try {
                    if (op.equals("bind")) victim.bind(pf.address(), false);
                    else victim.release(pf.iommuGroup(), true, false);
                    crashed = false;
                } catch (Crash c) {
                    crashed = true;
                }
                BindingService restarted = new BindingService(new SimulatedKernelHost(root), sc, new Journal(state), () -> rules);
                restarted.reconcile();
                for (var e : original.entrySet()) {
                    String now = sc.device(e.getKey()).orElseThrow().driver();
                    boolean fullyBound = op.equals("bind") && !crashed && "vfio-pci".equals(now);
                    assertThat(now).as("%s crash at write %d: %s", op, crashAt, e.getKey())
                            .isNotNull()
                            .satisfiesAnyOf(x -> assertThat(x).isEqualTo(e.getValue()), x -> assertThat(fullyBound).isTrue());
                }
                assertThat(restarted.reconcile()).as("a second reconcile finds nothing to do").isEmpty();
                if (!crashed) {
                    // every write index of the operation has been a crash point: 4 members x 3 writes
                    assertThat(crashAt - 1).as("%s crash points", op).isEqualTo(12);
                    break;
                }
            }
        }
    }

    @Test
    void aDeviceOfOursFoundWithoutADriverIsReboundOnRestart() throws IOException {
        BindingService s = service(HostSpec.sriovScale(1, 1));
        Device vf = firstVf();
        s.bind(vf.address(), false);
        host.write("sys/bus/pci/drivers/vfio-pci/unbind", vf.address().toString());
        assertThat(dev(vf.address().toString()).driver()).isNull();
        assertThat(restart(new SimulatedKernelHost(root)).reconcile()).singleElement().asString().contains("re-bound to vfio-pci");
        assertThat(dev(vf.address().toString()).driver()).isEqualTo("vfio-pci");
    }

    @Test
    void concurrentBindsOfOneGroupSerializeAndNeverInterleave() throws Exception {
        BindingService s = service(HostSpec.sriovScale(1, 3).withLayout(HostSpec.GroupLayout.SHARED));
        List<PciAddress> members = scanner.scan().devices().stream().filter(d -> d.sriov() != null || d.isVirtualFunction())
                .map(Device::address).toList();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<BindingPlan>> futures = new ArrayList<>();
        for (PciAddress a : members) futures.add(pool.submit(() -> {
            go.await();
            return s.bind(a, false);
        }));
        go.countDown();
        for (Future<BindingPlan> f : futures) f.get();
        pool.shutdown();
        // Exactly one transaction did the work; its records are contiguous.
        List<Journal.Entry> entries = s.journal().readAll();
        assertThat(entries.stream().filter(e -> e.phase() == Journal.Phase.BEGIN)).hasSize(1);
        assertThat(entries.stream().filter(e -> e.phase() == Journal.Phase.DONE)).hasSize(4);
        assertThat(entries.stream().map(Journal.Entry::txn).distinct()).hasSize(1);
        assertThat(members).allSatisfy(a -> assertThat(dev(a.toString()).driver()).isEqualTo("vfio-pci"));
    }

    @Test
    void releasingAGroupWeDidNotBindIsRefused() {
        BindingService s = service(HostSpec.sriovScale(1, 1));
        Device vf = firstVf();
        assertThatThrownBy(() -> s.release(vf.iommuGroup(), true, false)).hasMessageContaining("no device bound by vfio-broker");
    }

    @Test
    void keepBoundLeavesTheDeviceOnVfioPciAndStillRecordsIt() {
        BindingService s = service(HostSpec.sriovScale(1, 1));
        Device vf = firstVf();
        s.bind(vf.address(), false);
        s.release(vf.iommuGroup(), false, false);
        Device d = dev(vf.address().toString());
        assertThat(d.driver()).isEqualTo("vfio-pci");
        assertThat(d.driverOverride()).isNull();
        assertThat(s.status()).containsKey(vf.address());
        s.release(vf.iommuGroup(), true, false);
        assertThat(dev(vf.address().toString()).driver()).isEqualTo("iavf");
    }

    @Test
    void aDeviceWithoutAGroupOrAnUnknownAddressIsRefused() {
        BindingService s = service(HostSpec.demo().withIommu(HostSpec.Iommu.NONE));
        assertThatThrownBy(() -> s.bind(PciAddress.parse("0000:06:00.0"), false)).hasMessageContaining("in no IOMMU group");
        assertThatThrownBy(() -> s.bind(PciAddress.parse("0000:7e:00.0"), false)).hasMessageContaining("no PCI device 0000:7e:00.0");
    }

    @Test
    void withoutVfioPciInATreeTheBindSaysSoAndTouchesNothing() {
        BindingService s = service(HostSpec.sriovScale(1, 1).withVfioLoaded(false));
        Device vf = firstVf();
        assertThatThrownBy(() -> s.bind(vf.address(), false)).hasMessageContaining("vfio-pci is not loaded");
        assertThat(dev(vf.address().toString()).driver()).isEqualTo("iavf");
    }

    /** The policy file's binding section, with this text below {@code binding:}. */
    static BindingRules rules(String binding) {
        String indented = binding.lines().map(l -> "  " + l).collect(java.util.stream.Collectors.joining("\n"));
        return BindingRules.of(io.vfiobroker.policy.PolicyParser.parse("version: 1\nbinding:\n" + indented + "\n", "test"));
    }
}
