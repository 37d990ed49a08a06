package io.vfiobroker.e2e;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * [V9] A lease is exactly its grant, on the real kernel (e2e/vm/scenarios/grant.sh, in the broker boot): two edu
 * devices behind a PCI bridge share one IOMMU group, so a legacy lease of one hands over the group of both.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 90, unit = TimeUnit.MINUTES)
@Part(boot = Matrix.LEASES, script = "grant.sh")
class GrantIT {

    private static final String A = InventoryIT.BRIDGED_EDU.get(0);
    private static final String B = InventoryIT.BRIDGED_EDU.get(1);
    private static final String EDU_ID = "0x010000ed";

    @BeforeAll
    void bootAll() {
        Matrix.submitAll();
    }

    private static VmResult vm(Kernel kernel, Iommu iommu) {
        return Matrix.get(Matrix.LEASES, kernel, iommu);
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.Matrix#leases")
    void aLegacyLeaseOfOneBridgedDeviceIsRefusedWhenPolicyDeniesItsSibling(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        String[] groups = vm.text("v9/groups").strip().split(" ");
        assertThat(groups[0]).as("the bridged edu devices share a group").isEqualTo(groups[1]);
        ProbeOutput p = ProbeOutput.of(vm, "v9/deny-sibling");
        assertThat(p.find("acquired")).as("%s was granted although policy denies %s in its group\n%s", A, B, p).isEmpty();
        JsonNode refused = p.last("refused");
        assertThat(refused.get("error").asString()).isEqualTo("PERMISSION_DENIED");
        assertThat(refused.get("message").asString()).as("the refusal names the sibling and the rule").contains(B).contains("deny-sibling");
        assertThat(vm.text("v9/deny-driver-a").strip()).isEqualTo("none");
        assertThat(vm.text("v9/deny-driver-b").strip()).isEqualTo("none");
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.Matrix#leases")
    void whenPolicyGrantsBothTheClientOpensBothDevicesOfTheGroup(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        ProbeOutput p = ProbeOutput.of(vm, "v9/grant-both");
        JsonNode acquired = p.last("acquired");
        assertThat(acquired.get("fds").findValuesAsString("kind")).contains("KIND_CONTAINER", "KIND_GROUP");
        assertThat(acquired.get("fds").valueStream().filter(f -> f.get("kind").asString().equals("KIND_DEVICE"))
                .map(f -> f.get("device").asString()).toList()).containsExactlyInAnyOrder(A, B);
        JsonNode ids = p.last("bar0").get("ids");
        assertThat(ids.get(A).asString()).as("BAR0 of %s\n%s", A, p).isEqualTo(EDU_ID);
        assertThat(ids.get(B).asString()).as("BAR0 of %s\n%s", B, p).isEqualTo(EDU_ID);
        assertThat(vm.text("v9/held-driver-a").strip()).isEqualTo("vfio-pci");
        assertThat(vm.text("v9/held-driver-b").strip()).isEqualTo("vfio-pci");
        assertThat(p.last("released")).isNotNull();
        assertThat(vm.text("v9/after-driver-a").strip()).as("restored after release").isEqualTo("none");
        assertThat(vm.text("v9/after-driver-b").strip()).as("restored after release").isEqualTo("none");
        assertThat(p.exitStatus()).isEqualTo("0");
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.Matrix#leases")
    void aFiniteMemlockLimitIsRaisedForTheLeaseAndTheClientsOwnComesBackAfterRelease(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        ProbeOutput p = ProbeOutput.of(vm, "v9/grant-both");
        // The probe ran under prlimit --memlock=65536:131072; the policy grants 4 MiB per lease.
        assertThat(p.last("start").get("memlock").asString()).startsWith("65536 131072");
        assertThat(p.last("acquired").get("memlock").asString()).startsWith("4194304 4194304");
        assertThat(p.last("limits").get("memlock").asString()).as("RLIMIT_MEMLOCK after Release\n%s", p).startsWith("65536 131072");
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.BrokerIT#iommufdKernels")
    void anIommufdLeaseOfOneBridgedDeviceHandsOverThatDevicesCdevOnly(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        ProbeOutput p = ProbeOutput.of(vm, "v9/iommufd-one");
        JsonNode acquired = p.last("acquired");
        List<JsonNode> fds = acquired.get("fds").valueStream().toList();
        assertThat(fds).as("fds of the lease\n%s", p).hasSize(2);
        assertThat(fds).extracting(f -> f.get("kind").asString()).containsExactlyInAnyOrder("KIND_IOMMUFD", "KIND_DEVICE");
        JsonNode device = fds.stream().filter(f -> f.get("kind").asString().equals("KIND_DEVICE")).findFirst().orElseThrow();
        assertThat(device.get("device").asString()).isEqualTo(A);
        assertThat(device.get("link").asString()).startsWith("/dev/vfio/devices/vfio");
        assertThat(fds).extracting(f -> f.get("link").asString()).noneMatch(l -> l.matches("/dev/vfio/\\d+"));
        assertThat(p.last("bar0").get("ids").get(A).asString()).isEqualTo(EDU_ID);
        assertThat(p.last("bar0").get("ids").has(B)).isFalse();
    }
}
