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

import static org.assertj.core.api.Assertions.assertThat;

/**
 * [V10] Leases that can be taken back, on the real kernel (e2e/vm/scenarios/revoke.sh, in the broker boot): revoke
 * with a grace period, a cooperating client, a stuck group that delays only itself. (restart.sh — a daemon killed
 * under a client, and after each sysfs write — runs by hand with run-vm.sh --scenario leases; not yet in the suite.)
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 90, unit = TimeUnit.MINUTES)
class RevokeIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> ENDING_OR_STUCK = Set.of("ENDING", "STUCK");

    @BeforeAll
    void bootAll() {
        BrokerIT.remapping().forEach(a -> VmBoots.submit(BrokerIT.SCENARIO, (Kernel) a.get()[0], (Iommu) a.get()[1], BrokerIT.VM_TIMEOUT));
    }

    private static VmResult vm(Kernel kernel, Iommu iommu) {
        return VmBoots.get(BrokerIT.SCENARIO, kernel, iommu, BrokerIT.VM_TIMEOUT).requireSuccess();
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
    @MethodSource("io.vfiobroker.e2e.BrokerIT#remapping")
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
    @MethodSource("io.vfiobroker.e2e.BrokerIT#remapping")
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
    @MethodSource("io.vfiobroker.e2e.BrokerIT#remapping")
    void whileOneGroupIsStuckAnotherGroupIsAcquiredAndReleased(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        policyLoaded(vm, "v10/policy-grace25.json");
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

}
