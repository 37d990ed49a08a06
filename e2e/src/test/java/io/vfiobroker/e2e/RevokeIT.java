package io.vfiobroker.e2e;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * [V10] Leases that can be taken back, on the real kernel (e2e/vm/scenarios/revoke.sh and restart.sh, in the broker
 * boot): revoke with a grace period (and with none, timed), a cooperating client, a stuck group that delays only
 * itself, a daemon killed and restarted under a client, and (on the built kernel) crashes after each sysfs write of
 * a bind and a release.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 90, unit = TimeUnit.MINUTES)
@Part(boot = Matrix.LEASES, script = "revoke.sh")
class RevokeIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> ENDING_OR_STUCK = Set.of("ENDING", "STUCK");

    @BeforeAll
    void bootAll() {
        Matrix.submitAll();
    }

    private static VmResult vm(Kernel kernel, Iommu iommu) {
        return Matrix.get(Matrix.LEASES, kernel, iommu);
    }

    /**
     * One sample of revoke.sh's timeline: ms since the revoke, the lease's REST state ("-": no answer within 5 s), the
     * device's driver, holder alive, /dev/vfio/GROUP present. vfio-pci has let go once both driver and node are gone.
     */
    record Sample(long ms, String state, String driver, boolean alive, boolean node) {
        boolean released() {
            return !driver.equals("vfio-pci") && !node;
        }
    }

    static List<Sample> timeline(VmResult vm, String name) {
        return vm.text(name).lines().map(l -> l.split(" ")).filter(w -> w.length == 5)
                .map(w -> new Sample(Long.parseLong(w[0]), w[1], w[2], w[3].equals("yes"), w[4].equals("yes")))
                .toList();
    }

    static long firstMs(List<Sample> t, java.util.function.Predicate<Sample> p) {
        return t.stream().filter(p).mapToLong(Sample::ms).findFirst().orElse(-1);
    }

    private static JsonNode json(VmResult vm, String name) {
        String text = vm.text(name).strip();
        assertThat(text).as("%s: %s is empty", vm, name).isNotEmpty();
        return JSON.readTree(text);
    }

    private static void policyLoaded(VmResult vm, String name) {
        assertThat(vm.text(name)).as("policy reload with leases.revokeGraceSeconds (%s)", name).contains("LOADED").doesNotContain("REJECTED");
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.Matrix#leases")
    void aClientThatIgnoresTheRevokeIsKilledAfterTheGraceAndTheDeviceIsRestored(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        policyLoaded(vm, "v10/policy-grace3.json");
        ProbeOutput p = ProbeOutput.of(vm, "v10/ignore");
        long pid = p.last("start").get("pid").asLong();
        assertThat(json(vm, "v10/ignore-held.json").get("state").asString()).isEqualTo("ACTIVE");
        List<Sample> t = timeline(vm, "v10/ignore-timeline.txt");
        long killed = firstMs(t, s -> !s.alive());
        long restored = firstMs(t, Sample::released);
        System.out.printf("[V10] %s %s: revoke -> client killed %d ms, -> vfio-pci released %d ms (grace 3 s)%n", kernel, iommu, killed, restored);
        assertThat(killed).as("the client was killed\n%s", vm.text("v10/ignore-timeline.txt")).isPositive();
        assertThat(killed).as("not before the 3 s grace").isGreaterThanOrEqualTo(2_500);
        assertThat(t.stream().filter(Sample::alive).map(Sample::state)).as("states while the client lived").contains("ENDING");
        assertThat(t.stream().map(Sample::state)).as("the daemon answered GET during the revoke").doesNotContain("-");
        assertThat(restored).as("vfio-pci let go after the kill").isGreaterThanOrEqualTo(killed).isLessThan(30_000);
        assertThat(t.get(t.size() - 1).released()).as("vfio-pci let go\n%s", vm.text("v10/ignore-timeline.txt")).isTrue();
        assertThat(p.exitStatus()).as("SIGKILLed").isEqualTo("137");
        assertThat(json(vm, "v10/ignore-after.json").get("state").asString()).isEqualTo("ENDED");
        assertThat(vm.text("v10/ignore-delete.out")).contains("http=200");
        assertThat(vm.text("v10/audit.json")).contains("lease-holder-killed").contains(Long.toString(pid));
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.Matrix#leases")
    void withNoGraceARevokedDeviceIsRestoredAtOnceTimed(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        policyLoaded(vm, "v10/policy-grace0.json");
        List<Sample> t = timeline(vm, "v10/grace0-timeline.txt");
        long killed = firstMs(t, s -> !s.alive());
        long restored = firstMs(t, Sample::released);
        System.out.printf("[V10] bench %s %s: revoke -> holder killed %d ms, -> vfio-pci released %d ms (grace 0, real kernel, TCG)%n",
                kernel, iommu, killed, restored);
        assertThat(restored).as("vfio-pci let go\n%s", vm.text("v10/grace0-timeline.txt")).isNotNegative().isLessThan(30_000);
        assertThat(killed).as("killed without a grace").isNotNegative().isLessThanOrEqualTo(restored);
        assertThat(vm.text("v10/grace0-delete.out")).contains("http=200");
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.Matrix#leases")
    void aClientThatClosesItsFdsOnTheNoticeIsNotKilled(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        policyLoaded(vm, "v10/policy-grace15.json");
        ProbeOutput p = ProbeOutput.of(vm, "v10/coop");
        JsonNode notice = p.last("lease-event");
        assertThat(notice.get("state").asInt()).as("LEASE_STATE_ENDING on Watch\n%s", p).isEqualTo(4);
        assertThat(p.last("closed-fds").get("open").valueStream().toList()).as("VFIO fds left open").isEmpty();
        assertThat(p.exitStatus()).as("exited by itself with 0\n%s", p).isEqualTo("0");
        List<Sample> t = timeline(vm, "v10/coop-timeline.txt");
        long restored = firstMs(t, Sample::released);
        System.out.printf("[V10] %s %s: cooperating client: revoke -> vfio-pci released %d ms (grace 15 s)%n", kernel, iommu, restored);
        assertThat(restored).isPositive().isLessThan(40_000);
        assertThat(t.get(t.size() - 1).released()).as("vfio-pci let go\n%s", vm.text("v10/coop-timeline.txt")).isTrue();
        long pid = p.last("start").get("pid").asLong();
        assertThat(vm.text("v10/audit.json")).doesNotContainPattern("lease-holder-killed[^}]*\"" + pid + "\"");
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.Matrix#leases")
    void whileOneGroupIsStuckAnotherGroupIsAcquiredAndReleased(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        policyLoaded(vm, "v10/policy-grace60.json");
        assertThat(vm.text("v10/stuck-run.rc").strip()).as("vfio-broker run: %s", vm.text("v10/stuck-run.err")).isEqualTo("0");
        assertThat(vm.text("v10/stuck-holder.pid").strip()).isNotEmpty();
        assertThat(vm.text("v10/stuck-state-before").strip()).as("the first lease, its pid gone and a child holding its fds")
                .isIn(ENDING_OR_STUCK);
        ProbeOutput other = ProbeOutput.of(vm, "v10/other");
        assertThat(other.find("acquired")).as("another group's Acquire\n%s", other).isPresent();
        assertThat(other.find("released")).as("another group's Release\n%s", other).isPresent();
        long ms = Long.parseLong(vm.text("v10/other-ms").strip());
        System.out.printf("[V10] %s %s: Acquire+Release of another group while one is stuck: %d ms (client JVM already up)%n", kernel, iommu, ms);
        assertThat(vm.text("v10/stuck-state-after").strip()).as("still stuck when the other client was done").isIn(ENDING_OR_STUCK);
        assertThat(vm.files("v10")).as("the daemon, not the scenario, ended the holder").doesNotContain("stuck-cleanup");
        assertThat(vm.text("v10/stuck-driver-after").strip()).isEqualTo("none");
        assertThat(json(vm, "v10/stuck-after.json").get("state").asString()).isEqualTo("ENDED");
    }


    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.Matrix#leases")
    void aClientHoldingTheDeviceOnlyThroughAMappingIsFoundOnceTheUnbindWaits(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        policyLoaded(vm, "v10/policy-grace3-mmap.json");
        String audit = vm.text("v10/mmap-audit.json");

        // iommufd: the mapping names the lease's own cdev, so its process is killed like an fd holder.
        ProbeOutput cdev = ProbeOutput.of(vm, "v10/mmap-iommufd");
        JsonNode mapped = cdev.last("mapped");
        assertThat(mapped.get("id").asString()).as("edu's ID read through the mapping\n%s", cdev).isEqualTo("0x010000ed");
        assertThat(mapped.get("open").valueStream().toList()).as("VFIO fds left open").isEmpty();
        assertThat(mapped.get("maps").toString()).as("the mapping, as /proc names it").contains("/dev/vfio/devices/vfio");
        long killed = cdev.last("start").get("pid").asLong();
        assertThat(cdev.exitStatus()).as("SIGKILLed by the daemon\n%s", cdev).isEqualTo("137");
        assertThat(audit).containsPattern("lease-holder-killed[^}]*\"" + killed + "\"");
        assertThat(json(vm, "v10/mmap-iommufd-after.json").get("state").asString()).isEqualTo("ENDED");
        List<Sample> t = timeline(vm, "v10/mmap-iommufd-timeline.txt");
        assertThat(t.get(t.size() - 1).released()).as("vfio-pci let go\n%s", vm.text("v10/mmap-iommufd-timeline.txt")).isTrue();
        System.out.printf("[V10] %s %s: client holding only a BAR0 mapping of its cdev: revoke -> killed %d ms, -> vfio-pci released %d ms "
                + "(grace 3 s, unbind wait 5 s)%n", kernel, iommu, firstMs(t, s -> !s.alive()), firstMs(t, Sample::released));

        // legacy: a device fd opened through the group maps as anon_inode:[vfio-device]; the lease is STUCK naming it.
        ProbeOutput anon = ProbeOutput.of(vm, "v10/mmap-legacy");
        JsonNode m2 = anon.last("mapped");
        assertThat(m2.get("id").asString()).as("edu's ID read through the mapping\n%s", anon).isEqualTo("0x010000ed");
        assertThat(m2.get("open").valueStream().toList()).as("VFIO fds left open").isEmpty();
        assertThat(m2.get("maps").toString()).contains("anon_inode:[vfio-device]");
        long named = anon.last("start").get("pid").asLong();
        JsonNode stuck = json(vm, "v10/mmap-legacy-stuck.json");
        assertThat(stuck.get("state").asString()).as("%s", stuck).isEqualTo("STUCK");
        assertThat(stuck.get("stuckHolders").toString()).contains("pid " + named + " ").contains("a mapping of anon_inode:[vfio-device]");
        assertThat(anon.exitStatus()).as("not killed: it exited when the scenario told it to\n%s", anon).isEqualTo("0");
        assertThat(audit).doesNotContainPattern("lease-holder-killed[^}]*\"" + named + "\"");
        assertThat(json(vm, "v10/mmap-legacy-after.json").get("state").asString()).isEqualTo("ENDED");
        assertThat(vm.text("v10/mmap-driver-after").strip()).as("restored once the mapping went").isEqualTo("none");
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.Matrix#leases")
    @Part(script = "restart.sh")
    void aDaemonKilledUnderAClientIsRestartedAndTheClientKeepsItsDevice(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        ProbeOutput p = ProbeOutput.of(vm, "v10/restart");
        List<JsonNode> dma = p.all("dma");
        assertThat(dma).as("a DMA before the kill and one after the restart\n%s", p).hasSize(2);
        assertThat(dma.get(0).get("roundTrip").asBoolean()).as("DMA before the kill\n%s", p).isTrue();
        assertThat(vm.text("v10/restart-driver-daemon-dead").strip()).isEqualTo("vfio-pci");
        assertThat(json(vm, "v10/restart-adopted.json").get("state").asString()).as("the lease after restart").isEqualTo("ACTIVE");
        assertThat(dma.get(1).get("roundTrip").asBoolean()).as("DMA after the restart\n%s", p).isTrue();
        assertThat(vm.text("v10/restart-driver-held").strip()).isEqualTo("vfio-pci");
        long ms = Long.parseLong(vm.text("v10/restart-exit-to-restored-ms").strip());
        System.out.printf("[V10] %s %s: daemon restart took %s ms; client exit -> restored %d ms%n", kernel, iommu,
                vm.text("v10/restart-start-ms").strip(), ms);
        assertThat(vm.text("v10/restart-driver-after").strip()).isEqualTo("none");
        JsonNode after = json(vm, "v10/restart-after.json");
        assertThat(after.get("state").asString()).isEqualTo("ENDED");
        assertThat(vm.text("v10/restart-audit.json")).as("the adopted lease's device was reset at its end").contains("reset");
    }

    private static final Pattern STATE = Pattern.compile("^(\\S+) (\\d+) (\\S+) (\\S+) driver=(\\S+) override=(\\S+) bound=(.*)$");

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.Matrix#crash")   // -De2e.crashPoints=true: a daemon start per crash point
    @Part(boot = Matrix.CRASH, script = "crash.sh")
    void aDaemonKilledAfterAnySysfsWriteOfABindOrReleaseLeavesNoDeviceHalfBound(Kernel kernel, Iommu iommu) {
        VmResult vm = Matrix.get(Matrix.CRASH, kernel, iommu);
        String summary = vm.text("crash/summary.txt");
        assertThat(summary).as("each operation ran to completion once the crash point was past its last write")
                .contains("bind completed-after-writes=").contains("release completed-after-writes=");
        for (String op : List.of("bind", "release")) {
            Matcher m = Pattern.compile(op + " completed-after-writes=(\\d+)").matcher(summary);
            assertThat(m.find()).isTrue();
            int writes = Integer.parseInt(m.group(1));
            assertThat(writes).as("sysfs writes of a %s", op).isGreaterThanOrEqualTo(2);
            for (int n = 1; n <= writes; n++) {
                assertThat(summary).as("%s crash after write %d", op, n).contains(op + " " + n + " daemon-exit=137");
            }
        }
        int restarts = 0;
        for (String line : vm.text("crash/states.txt").lines().toList()) {
            Matcher m = STATE.matcher(line);
            if (!m.matches() || !m.group(3).equals("restarted")) continue;
            restarts++;
            String driver = m.group(5);
            assertThat(driver).as("after restart the device is unbound or the daemon's, nothing between: %s", line).isIn("none", "vfio-pci");
            if (driver.equals("none")) {
                assertThat(m.group(6)).as("no override left on an unbound device: %s", line).isEqualTo("(null)");
                assertThat(m.group(7)).as("the daemon holds no binding: %s", line).isEqualTo("[]");
            } else {
                assertThat(m.group(7)).as("the daemon owns what is bound: %s", line).contains(m.group(4));
            }
        }
        System.out.printf("[V10] %s %s: %d crash points (%s), start-up times ms: %s%n", kernel, iommu, restarts,
                summary.replace('\n', ';'), vm.text("crash/start-ms").replace('\n', ' '));
        assertThat(restarts).isGreaterThanOrEqualTo(4);
    }
}
