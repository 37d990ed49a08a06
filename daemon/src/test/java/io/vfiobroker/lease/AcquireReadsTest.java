package io.vfiobroker.lease;

import io.vfiobroker.accounting.Memlock;
import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.binding.BindingRules;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.Accounts;
import io.vfiobroker.host.DirSnapshot;
import io.vfiobroker.host.Processes;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import io.vfiobroker.iommu.DeviceDomain;
import io.vfiobroker.iommu.DomainOpener;
import io.vfiobroker.iommu.VfioDomainOpener;
import io.vfiobroker.iommu.VfioKernelModel;
import io.vfiobroker.policy.PolicyService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * How often one Acquire, through the real lease path over a generated host with the simulated kernel, reads each device.
 * "One read of a device" is one snapshot of its sysfs directory ({@link SysfsHost#snapshot}, the scanner's per-device
 * read of uevent, driver_override, numa_node, ... in one go): the attribute files inside one snapshot are one read.
 * Single-attribute reads under the directory (a driver link looked up on its own) are counted apart. The host under
 * test answers no {@link SysfsHost#identity}, which per its contract means nothing may be cached by it, so the
 * scanner's device cache cannot hide a read: every time the path wants a device, it shows here as a snapshot.
 */
class AcquireReadsTest {

    static final String VF_ID = "8086:154c";
    static final String GPU = "10de:24b0";
    static final String GPU_AUDIO = "10de:228b";
    static final String POLICY = """
            version: 1
            rules:
              - name: all
                action: allow
                devices: {vendorDevice: ["8086:154c", "10de:24b0", "10de:228b"]}
                principals: {uid: 0}
                limits: {maxDevices: 64, memlockPerLease: unlimited}
            """;

    Path dir;
    CountingHost host;
    LeaseService leases;
    PolicyService policy;
    final java.util.concurrent.atomic.AtomicBoolean failOpen = new java.util.concurrent.atomic.AtomicBoolean();

    @AfterEach
    void stop() throws IOException {
        if (leases != null) leases.close();
        if (policy != null) policy.close();
        if (dir != null) {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void aDeviceAlreadyOnVfioPciIsReadOncePerAcquire() throws Exception {
        start(HostSpec.demo().withVfDriver("vfio-pci"));
        String vf = address(VF_ID);
        assertThat(driver(vf)).isEqualTo("vfio-pci");

        host.reset();
        leases.acquire(self(), List.of(vf), null, 0);

        assertThat(host.snapshots).containsOnlyKeys(vf).containsEntry(vf, 1);
        assertThat(host.snapshotsAtFirstIoctl).containsOnlyKeys(vf).containsEntry(vf, 1);
        assertThat(host.snapshotsAtFirstWrite).isNull(); // nothing to bind
    }

    /**
     * The GPU is on nouveau, its group mate on snd_hda_intel: Acquire binds the group of 2. Each member is read once, by
     * GrantDecider.decide (scanner.around, outside every lock). The bind plans from that read (a GroupRead passed down)
     * because no binding change ran since; under the group's lock it only lists the group's members to check that.
     */
    @Test
    void aGroupAcquireBindsReadsEachMemberOnceToDecideAndPlansTheBindFromThatRead() throws Exception {
        start(HostSpec.demo());
        String gpu = address(GPU);
        String audio = address(GPU_AUDIO);
        assertThat(driver(gpu)).isEqualTo("nouveau");

        host.reset();
        Lease l = leases.acquire(self(), List.of(gpu), null, 0).getKey();
        assertThat(l.groupMembers()).extracting(d -> d.address().toString()).containsExactly(audio);
        assertThat(driver(gpu)).isEqualTo("vfio-pci");
        assertThat(driver(audio)).isEqualTo("vfio-pci");

        assertThat(host.snapshots).isEqualTo(Map.of(gpu, 1, audio, 1));
        assertThat(host.snapshotsAtFirstWrite).isEqualTo(Map.of(gpu, 1, audio, 1));
        assertThat(host.snapshotsAtFirstIoctl).isEqualTo(Map.of(gpu, 1, audio, 1));
        for (String a : List.of(gpu, audio)) {
            assertThat(host.origins.get(a)).singleElement().satisfies(o -> assertThat(o).startsWith("GrantDecider.decide:"));
        }
    }

    /** What the bind wrote (its plan's steps) is what a failed Acquire gives back: the group returns to its drivers. */
    @Test
    void aGroupTheAcquireBoundIsGivenBackWhenTheDomainFailsToOpen() throws Exception {
        start(HostSpec.demo());
        String gpu = address(GPU);
        String audio = address(GPU_AUDIO);
        failOpen.set(true);

        org.assertj.core.api.Assertions.assertThatThrownBy(() -> leases.acquire(self(), List.of(gpu), null, 0))
                .isInstanceOf(LeaseException.class).hasMessageContaining("EBUSY");
        assertThat(driver(gpu)).isEqualTo("nouveau");
        assertThat(driver(audio)).isEqualTo("snd_hda_intel");
        assertThat(leases.active()).isEmpty();
    }

    // ---- the fixture --------------------------------------------------------------------------------------------

    private void start(HostSpec spec) throws IOException {
        dir = Files.createTempDirectory(Path.of("/tmp"), "vb-reads-");
        Path root = HostTreeGenerator.generate(spec, dir.resolve("host"));
        host = new CountingHost(new SimulatedKernelHost(root));
        InventoryScanner scanner = new InventoryScanner(host, PciIds.empty());
        Files.writeString(dir.resolve("policy.yaml"), POLICY);
        policy = new PolicyService(dir.resolve("policy.yaml"), scanner);
        BindingService binding = new BindingService(host, scanner, new Journal(dir.resolve("state")), () -> BindingRules.of(policy.current()));
        Files.createDirectories(dir.resolve("fake"));
        VfioKernelModel kernel = VfioKernelModel.of(host).standInFiles(dir.resolve("fake"));
        DomainOpener domains = new MarkingOpener(new VfioDomainOpener(host, kernel), host, failOpen);
        leases = new LeaseService(host, scanner, binding, policy, domains, new Memlock(), new AuditLog(dir.resolve("state")), Duration.ofSeconds(5));
    }

    /** Looked up over the plain tree, so the counted host and the scanner under test see none of it. */
    private String address(String vendorDevice) {
        return new InventoryScanner(host.real, PciIds.empty()).scan().devices().stream().filter(d -> d.vendorDevice().equals(vendorDevice))
                .map(Device::address).map(PciAddress::toString).sorted().findFirst().orElseThrow();
    }

    private String driver(String address) {
        return new InventoryScanner(host.real, PciIds.empty()).device(PciAddress.parse(address)).orElseThrow().driver();
    }

    private static Caller self() {
        return new Caller((int) ProcessHandle.current().pid(), 0, 0);
    }

    /** Marks the first ioctl: opening the domain is where the VFIO ioctls begin. */
    private record MarkingOpener(DomainOpener real, CountingHost host, java.util.concurrent.atomic.AtomicBoolean fail) implements DomainOpener {
        @Override
        public List<Backend> availableBackends() {
            return real.availableBackends();
        }

        @Override
        public DeviceDomain open(List<Member> devices, Backend backend) {
            host.markIoctl();
            if (fail.get()) throw new io.vfiobroker.iommu.DomainException("VFIO_GROUP_SET_CONTAINER: EBUSY (stand-in failure)", "EBUSY", null);
            return real.open(devices, backend);
        }
    }

    /** The real host, counting per PCI address the reads that fall under sys/bus/pci/devices/<address>. */
    static final class CountingHost implements SysfsHost {
        private static final String DEVICES = "sys/bus/pci/devices/";
        final SysfsHost real;
        Map<String, Integer> snapshots = new TreeMap<>();
        Map<String, Integer> attributeReads = new TreeMap<>();
        Map<String, Integer> snapshotsAtFirstWrite;
        Map<String, List<String>> origins = new TreeMap<>();
        Map<String, Integer> snapshotsAtFirstIoctl;

        CountingHost(SysfsHost real) {
            this.real = real;
        }

        synchronized void reset() {
            snapshots = new TreeMap<>();
            attributeReads = new TreeMap<>();
            origins = new TreeMap<>();
            snapshotsAtFirstWrite = null;
            snapshotsAtFirstIoctl = null;
        }

        synchronized void markIoctl() {
            if (snapshotsAtFirstIoctl == null) snapshotsAtFirstIoctl = new TreeMap<>(snapshots);
        }

        private static String device(String path) {
            if (!path.startsWith(DEVICES)) return null;
            String rest = path.substring(DEVICES.length());
            int slash = rest.indexOf('/');
            String a = slash < 0 ? rest : rest.substring(0, slash);
            return PciAddress.isValid(a) ? a : null;
        }

        private synchronized void attribute(String path) {
            String a = device(path);
            if (a != null) attributeReads.merge(a, 1, Integer::sum);
        }

        @Override
        public Optional<DirSnapshot> snapshot(String dir, List<String> files, List<String> links) {
            String a = device(dir);
            if (a != null) {
                List<String> from = StackWalker.getInstance().walk(f -> f
                        .filter(x -> x.getClassName().startsWith("io.vfiobroker.") && !x.getClassName().contains("AcquireReadsTest")
                                && !x.getClassName().endsWith("InventoryScanner"))
                        .limit(3).map(x -> x.getClassName().replaceAll(".*\\.", "") + "." + x.getMethodName() + ":" + x.getLineNumber()).toList());
                synchronized (this) {
                    snapshots.merge(a, 1, Integer::sum);
                    origins.computeIfAbsent(a, k -> new java.util.ArrayList<>()).add(String.join(" < ", from));
                }
            }
            return real.snapshot(dir, files, links);
        }

        /** None: nothing may be cached by this host, so no cache hides a read. */
        @Override
        public Optional<Object> identity(String path) {
            return Optional.empty();
        }

        @Override
        public void write(String path, String value) throws IOException {
            synchronized (this) {
                if (snapshotsAtFirstWrite == null) snapshotsAtFirstWrite = new TreeMap<>(snapshots);
            }
            real.write(path, value);
        }

        @Override
        public boolean realHost() {
            return real.realHost();
        }

        @Override
        public Path deviceNode(String name) {
            return real.deviceNode(name);
        }

        @Override
        public Path daemonPath(String relative) {
            return real.daemonPath(relative);
        }

        @Override
        public Processes processes() {
            return real.processes();
        }

        @Override
        public Accounts accounts() {
            return real.accounts();
        }

        @Override
        public Optional<String> interrupts() {
            return real.interrupts();
        }

        @Override
        public Optional<String> read(String path) {
            attribute(path);
            return real.read(path);
        }

        @Override
        public Optional<String> readText(String path, int max) {
            attribute(path);
            return real.readText(path, max);
        }

        @Override
        public Optional<String> linkName(String path) {
            attribute(path);
            return real.linkName(path);
        }

        @Override
        public Optional<String> linkTarget(String path) {
            attribute(path);
            return real.linkTarget(path);
        }

        @Override
        public List<String> list(String path) {
            attribute(path);
            return real.list(path);
        }

        @Override
        public Map<String, String> linkNames(String dir) {
            attribute(dir);
            return real.linkNames(dir);
        }

        @Override
        public boolean exists(String path) {
            attribute(path);
            return real.exists(path);
        }
    }
}
