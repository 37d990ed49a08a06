package io.vfiobroker.e2e;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Scenarios 2-5 on a real kernel, one boot per kernel × intremap (e2e/vm/scenarios/broker.sh): bind and
 * restore edu through the CLI; the daemon handing edu to uid 1000, which reads BAR0, DMAs and gets an MSI;
 * the memlock limit enforced by the kernel; interrupt-remapping policy; a SIGKILLed client's lease ending.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 90, unit = TimeUnit.MINUTES)   // a guard only: each VM is time-boxed by run-vm.sh
@Part(boot = Matrix.BROKER, script = "broker.sh")
class BrokerIT {

    static final String SCENARIO = Matrix.BROKER;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Every broker boot (see {@link Matrix}). */
    static Stream<Arguments> platforms() {
        return Matrix.broker();
    }

    static Stream<Arguments> remapping() {
        return platforms().filter(a -> a.get()[1] == Iommu.ON);
    }

    static Stream<Arguments> iommufdKernels() {
        return remapping().filter(a -> ((Kernel) a.get()[0]).hasIommufd());
    }

    static Stream<Arguments> noRemapping() {
        return platforms().filter(a -> a.get()[1] == Iommu.OFF);
    }

    @BeforeAll
    void bootAll() {
        Matrix.submitAll();
    }

    private static VmResult vm(Kernel kernel, Iommu iommu) {
        return Matrix.get(SCENARIO, kernel, iommu);
    }

    private static JsonNode json(VmResult vm, String name) {
        String text = vm.text(name + ".out").strip();
        assertThat(text).as("%s: %s printed nothing; stderr: %s", vm, name, vm.text(name + ".err")).isNotEmpty();
        return JSON.readTree(text.lines().filter(l -> l.startsWith("{")).findFirst().orElse(text));
    }

    private static String line(VmResult vm, String name) {
        return vm.text(name).strip();
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("remapping")   // once per kernel: nothing here depends on interrupt remapping
    @Part(script = "broker.sh s2")
    void scenario2BindingAGroupMakesItsNodeAndReleaseRestoresTheOriginalState(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        String group = line(vm, "edu-group");
        assertThat(line(vm, "s2/driver-before")).isEqualTo("none");
        assertThat(line(vm, "s2/dev-vfio-before")).doesNotContain(group + " ").isNotEqualTo(group);
        assertThat(vm.text("s2/bind-dry-run.out")).contains("driver_override").contains("drivers_probe").contains("dry run");
        assertThat(line(vm, "s2/bind.rc")).isEqualTo("0");
        assertThat(line(vm, "s2/driver-bound")).isEqualTo("vfio-pci");
        assertThat(line(vm, "s2/dev-vfio-bound").split(" ")).contains(group);
        assertThat(vm.commandJson("s2/status").get(0).get("device").asString()).isEqualTo(line(vm, "edu-address"));
        assertThat(line(vm, "s2/release.rc")).isEqualTo("0");
        assertThat(line(vm, "s2/driver-released")).isEqualTo("none");
        assertThat(line(vm, "s2/dev-vfio-released").split(" ")).doesNotContain(group);
        assertThat(line(vm, "s2/override-released")).isEqualTo("(null)");
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("remapping")
    @Part(script = "broker.sh s3")
    void scenario3AnUnprivilegedClientDrivesEduThroughTheBroker(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        JsonNode r = json(vm, "s3/edu-legacy");
        assertThat(r.has("error")).as("acquire failed: %s", r).isFalse();
        assertThat(r.get("uid").asInt()).isEqualTo(1000);
        assertThat(r.get("fds").toString()).contains("KIND_CONTAINER", "KIND_GROUP", "KIND_DEVICE");
        assertThat(r.get("bar0Id").asString()).isEqualTo("0x010000ed");
        assertThat(r.get("liveness").asBoolean()).isTrue();
        assertThat(r.get("memlockLimit").asLong()).isEqualTo(4L << 20);
        assertThat(r.get("dmaMap").asString()).isEqualTo("ok");
        // type1 charges the mapping process's locked_vm: VmLck, not VmPin
        assertThat(r.get("vmLckMappedKb").asLong() - r.get("vmLckBeforeKb").asLong()).isEqualTo(2048);
        assertThat(r.get("dmaRoundTrip").asBoolean()).isTrue();
        assertThat(r.get("msi").asBoolean()).isTrue();
        assertThat(r.get("dmaUnmapped").asLong()).isEqualTo(2L << 20);
        assertThat(r.get("vmLckAfterUnmapKb").asLong()).isEqualTo(r.get("vmLckBeforeKb").asLong());

        JsonNode small = json(vm, "s3/edu-small-memlock");
        assertThat(small.get("memlockLimit").asLong()).isEqualTo(1L << 20);
        assertThat(small.get("dmaMap").asString()).isEqualTo("ENOMEM");
        assertThat(small.get("dmaMapMessage").asString()).startsWith("VFIO_IOMMU_MAP_DMA: ENOMEM");

        assertThat(vm.text("s3/audit.out")).contains("lease-granted").contains("fds-handed-over").contains("lease-ended");
        assertThat(line(vm, "s3/driver-after")).isEqualTo("none");
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("remapping")
    @Part(script = "broker.sh s3")
    void scenario3RunExecsTheProgramWithTheLeasesFdsAndEndsTheLeaseWhenItExits(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        String out = vm.text("s3/run.out");
        assertThat(line(vm, "s3/run.rc")).as("stdout: %s stderr: %s", out, vm.text("s3/run.err")).isEqualTo("0");
        String group = line(vm, "edu-group");
        String device = "device-" + line(vm, "edu-address").replace(':', '_'); // ':' is the list's separator
        assertThat(out).contains("LISTEN_FDS=3\n", "LISTEN_PID=self\n");
        String names = out.lines().filter(l -> l.startsWith("LISTEN_FDNAMES=")).findFirst().orElseThrow().substring(15);
        assertThat(names.split(":")).containsExactlyInAnyOrder("container", "group-" + group, device);
        java.util.List<String> n = java.util.List.of(names.split(":"));
        // Each name's fd (3 + its place in LISTEN_FDNAMES) is the file the name says.
        assertThat(out).contains("fd " + (3 + n.indexOf("container")) + " -> /dev/vfio/vfio\n",
                "fd " + (3 + n.indexOf("group-" + group)) + " -> /dev/vfio/" + group + "\n",
                "fd " + (3 + n.indexOf(device)) + " -> anon_inode:[vfio-device]\n");
        assertThat(out).containsPattern("Max locked memory\\s+4194304\\s+4194304\\s+bytes");
        assertThat(line(vm, "s3/driver-after-run")).isEqualTo("none");
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("iommufdKernels")   // the Debian kernels have no CONFIG_IOMMUFD: scenario 1 checks it is absent
    @Part(script = "broker.sh s3")
    void scenario3TheIommufdBackendWhereTheKernelHasIt(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        JsonNode r = json(vm, "s3/edu-iommufd");
        assertThat(r.has("error")).as("acquire failed: %s", r).isFalse();
        assertThat(r.get("backend").asString()).isEqualTo("BACKEND_IOMMUFD");
        assertThat(r.get("fds").toString()).contains("KIND_IOMMUFD", "KIND_DEVICE");
        assertThat(r.get("bar0Id").asString()).isEqualTo("0x010000ed");
        assertThat(r.get("dmaMap").asString()).isEqualTo("ok");
        // per-process accounting (set by the daemon before handover): VmLck and VmPin both rise
        assertThat(r.get("vmLckMappedKb").asLong() - r.get("vmLckBeforeKb").asLong()).isEqualTo(2048);
        assertThat(r.get("vmPinMappedKb").asLong()).isGreaterThanOrEqualTo(2048);
        assertThat(r.get("dmaRoundTrip").asBoolean()).isTrue();
        assertThat(r.get("msi").asBoolean()).isTrue();

        JsonNode small = json(vm, "s3/edu-iommufd-small-memlock");
        assertThat(small.get("dmaMap").asString()).isEqualTo("ENOMEM");
        assertThat(vm.text("s3/iommufd-without-access.err")).contains("Permission denied");
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("noRemapping")
    @Part(script = "broker.sh s4")
    void scenario4UnsafeInterruptsAreRefusedByPolicyThenAllowedAndMarked(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        assertThat(vm.text("s4/explain.out")).startsWith("REFUSED").contains("does not remap interrupts");

        JsonNode refused = json(vm, "s4/refused-by-policy");
        assertThat(refused.get("error").asString()).isEqualTo("PERMISSION_DENIED");
        assertThat(refused.get("message").asString()).contains("interrupt").contains("ci-edu");

        JsonNode switchOff = json(vm, "s4/allowed-but-kernel-switch-off");
        assertThat(switchOff.has("error")).isTrue();
        assertThat(switchOff.get("message").asString()).contains("allow_unsafe_interrupts").contains("EPERM");

        // Without policy in the way, the kernel itself says no, and the daemon's message says why.
        assertThat(vm.text("s4/domain-check-switch-off.out")).startsWith("refused: VFIO_SET_IOMMU: EPERM")
                .contains("allow_unsafe_interrupts is N");

        JsonNode allowed = json(vm, "s4/allowed-with-switch");
        assertThat(allowed.has("error")).as("acquire failed: %s", allowed).isFalse();
        assertThat(allowed.get("unsafeInterrupts").asBoolean()).isTrue();
        assertThat(allowed.get("bar0Id").asString()).isEqualTo("0x010000ed");
        assertThat(vm.text("s3/audit.out")).contains("\"unsafeInterrupts\":\"true\"");
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("remapping")
    @Part(script = "broker.sh s4")
    void scenario4WithRemappingTheKernelOpensTheDomain(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        // The switch stays off on this boot; scenario 3's client opened the legacy domain through it.
        assertThat(vm.text("s3/edu-legacy.rc").strip()).as("scenario 3's legacy client").isEqualTo("0");
        assertThat(vm.text("s3/edu-legacy.out")).contains("\"fds\":[\"KIND_CONTAINER\",\"KIND_GROUP\",\"KIND_DEVICE\"]")
                .contains("\"unsafeInterrupts\":false");
        assertThat(vm.text("s4/explain.out")).startsWith("ALLOWED").contains("remaps interrupts");
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("remapping")   // once per kernel: nothing here depends on interrupt remapping
    @Part(script = "broker.sh s5")
    void scenario5ASigkilledClientsLeaseEndsAndTheDeviceIsRestored(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        String pid = line(vm, "s5/client-pid");
        assertThat(vm.text("s5/client.out")).contains("HOLDING");
        assertThat(line(vm, "s5/driver-held")).isEqualTo("vfio-pci");
        assertThat(vm.text("s5/leases-held.json")).contains("\"pid\":" + pid).contains("\"state\":\"ACTIVE\"");
        assertThat(vm.text("s5/limits-held")).containsPattern("Max locked memory\\s+4194304\\s+4194304");
        assertThat(line(vm, "s5/leases-after-kill.json")).isEqualTo("[]");
        assertThat(vm.text("s5/leases-ended.json")).contains("\"endReason\":\"client process exited\"");
        assertThat(line(vm, "s5/driver-after-kill")).isEqualTo("none");
        assertThat(line(vm, "s5/dev-vfio-after-kill").split(" ")).doesNotContain(line(vm, "edu-group"));
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("remapping")   // once per kernel: nothing here depends on interrupt remapping
    @Part(script = "broker.sh s6")
    void hotplugRemoveAndRescanReachTheEventStream(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        String edu = line(vm, "edu-address");
        String events = vm.text("s6/events.txt");
        assertThat(events).as("SSE /api/v1/events during remove + rescan").contains("device-removed").contains("device-added").contains(edu);
        assertThat(events.indexOf("device-removed")).isLessThan(events.lastIndexOf("device-added"));
        assertThat(line(vm, "s6/after-remove.code")).as("GET the removed device").isEqualTo("404");
        assertThat(line(vm, "s6/after-rescan.rc")).isEqualTo("0");
        assertThat(vm.text("s6/after-rescan.json")).contains("\"deviceId\":\"11e8\"");
        for (String type : List.of("device-removed", "device-added")) {
            assertThat(hotplugCount(vm.text("s6/metrics.txt"), type)).as("hotplug counter %s", type)
                    .isEqualTo(hotplugCount(vm.text("s6/metrics-before.txt"), type) + 1);
        }
        System.out.printf("[V12] %s %s hotplug on the real kernel: remove -> SSE event %s ms, rescan -> SSE event %s ms (TCG)%n", kernel, iommu,
                line(vm, "s6/remove-to-event-ms"), line(vm, "s6/rescan-to-event-ms"));
    }

    /** vfio_broker_hotplug_events_total{type="TYPE"} in a Prometheus scrape, 0 when absent. */
    private static double hotplugCount(String scrape, String type) {
        return scrape.lines().filter(l -> l.startsWith("vfio_broker_hotplug_events_total{type=\"" + type + "\"}"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).findFirst().orElse(0);
    }
}
