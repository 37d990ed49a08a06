package io.vfiobroker.e2e;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Scenario 1: inside a real kernel, the inventory the CLI reports matches the guest's own truth —
 * two edu (1234:11e8) each alone in its IOMMU group and two sharing one behind a PCI bridge, dmar0's IR bit following intremap=on/off, the vfio
 * modules present, iommufd only where the kernel has it. One boot per kernel × intremap serves all
 * the tests here.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 30, unit = TimeUnit.MINUTES)   // a guard only: each VM is time-boxed by run-vm.sh
@Part(boot = Matrix.BROKER, script = "inventory.sh")
class InventoryIT {

    // Scenario 1 runs first in the broker boot (before anything is bound), so each kernel x intremap boots once.
    private static final String SCENARIO = BrokerIT.SCENARIO;
    private static final long INTEL_ECAP_IR = 1L << 3;
    static final List<String> ROOT_EDU = List.of("0000:00:01.0", "0000:00:02.0");
    static final String BRIDGE = "0000:00:03.0";
    static final List<String> BRIDGED_EDU = List.of("0000:01:01.0", "0000:01:02.0");

    static Stream<Arguments> platforms() {
        return BrokerIT.platforms();
    }

    @BeforeAll
    void bootAll() {
        Matrix.submitAll();
    }

    private static VmResult vm(Kernel kernel, Iommu iommu) {
        return Matrix.get(SCENARIO, kernel, iommu);
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("platforms")
    void guestTruthIsWhatThePlatformPromises(Kernel kernel, Iommu iommu) {
        GuestTruth truth = GuestTruth.of(vm(kernel, iommu));

        // run-vm.sh's topology: two edu on the root bus, each alone in its group, and two behind a PCI bridge,
        // which share the bridge's group.
        var edu = truth.withIds("1234", "11e8");
        assertThat(edu).as("edu devices (lspci)").extracting(GuestTruth.PciFunction::address)
                .containsExactly(ROOT_EDU.get(0), ROOT_EDU.get(1), BRIDGED_EDU.get(0), BRIDGED_EDU.get(1));
        for (var e : edu) {
            assertThat(e.iommuGroup()).as("%s's IOMMU group", e.address()).isNotNull();
            assertThat(e.driver()).as("%s has no host driver", e.address()).isNull();
        }
        for (var e : edu.subList(0, 2)) {
            assertThat(truth.groups()).as("/sys/kernel/iommu_groups").containsEntry(e.iommuGroup(), List.of(e.address()));
        }
        assertThat(edu.get(2).iommuGroup()).as("bridged edu devices share a group").isEqualTo(edu.get(3).iommuGroup());
        assertThat(truth.groups().get(edu.get(2).iommuGroup())).as("the bridged group")
                .containsExactly(BRIDGE, BRIDGED_EDU.get(0), BRIDGED_EDU.get(1));

        assertThat(truth.iommuUnits()).as("/sys/class/iommu").containsOnlyKeys("dmar0");
        long ecap = Long.parseUnsignedLong(truth.iommuUnits().get("dmar0").get("ecap"), 16);
        assertThat((ecap & INTEL_ECAP_IR) != 0).as("dmar0 ecap IR bit (ecap 0x%x)", ecap).isEqualTo(iommu.interruptRemapping());
        assertThat(truth.yes("ir-chips")).as("IR- interrupt chips in /proc/interrupts").isEqualTo(iommu.interruptRemapping());

        assertThat(truth.yes("module.vfio")).as("vfio").isTrue();
        assertThat(truth.yes("driver.vfio-pci")).as("vfio-pci driver").isTrue();
        assertThat(truth.yes("module.vfio_iommu_type1")).as("vfio_iommu_type1").isTrue();
        assertThat(truth.yes("dev.vfio.vfio")).as("/dev/vfio/vfio").isTrue();
        assertThat(truth.param("param.type1.allow_unsafe_interrupts")).as("type1 allow_unsafe_interrupts default").isFalse();
        assertThat(truth.yes("module.iommufd")).as("iommufd in /sys/module").isEqualTo(kernel.hasIommufd());
        assertThat(truth.yes("dev.iommu")).as("/dev/iommu").isEqualTo(kernel.hasIommufd());
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.BrokerIT#remapping")   // the same tree either way; the off boot asks only iommu
    void cliDevicesMatchTheGuest(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        GuestTruth truth = GuestTruth.of(vm);
        JsonNode devices = vm.commandJson("cli/devices");

        Map<String, GuestTruth.PciFunction> reported = new TreeMap<>();
        for (JsonNode d : devices) {
            reported.put(d.get("address").asString(), new GuestTruth.PciFunction(d.get("address").asString(),
                    d.get("vendorId").asString(), d.get("deviceId").asString(), textOrNull(d.get("driver")),
                    d.get("iommuGroup").isNull() ? null : d.get("iommuGroup").asInt()));
        }
        Map<String, GuestTruth.PciFunction> expected = new TreeMap<>();
        truth.devices().forEach(f -> expected.put(f.address(), f));
        assertThat(reported).as("devices --json vs lspci").isEqualTo(expected);

        assertThat(vm.commandJson("cli/devices-as-user")).as("devices --json as uid 1000").isEqualTo(devices);
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.BrokerIT#remapping")   // the same tree either way; the off boot asks only iommu
    void cliGroupsMatchTheGuest(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        GuestTruth truth = GuestTruth.of(vm);
        Map<Integer, List<String>> reported = new TreeMap<>();
        for (JsonNode g : vm.commandJson("cli/groups")) {
            reported.put(g.get("id").asInt(), g.get("devices").valueStream().map(JsonNode::asString).sorted().toList());
        }
        assertThat(reported).as("groups --json vs /sys/kernel/iommu_groups").isEqualTo(truth.groups());
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("platforms")
    void cliIommuMatchesTheGuest(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        GuestTruth truth = GuestTruth.of(vm);
        JsonNode doc = vm.commandJson("cli/iommu");

        JsonNode units = doc.get("units");
        assertThat(units.valueStream().map(u -> u.get("name").asString()).toList())
                .as("units").containsExactlyElementsOf(truth.iommuUnits().keySet());
        JsonNode dmar0 = units.get(0);
        assertThat(dmar0.get("type").asString()).isEqualTo("intel-vt-d");
        assertThat(dmar0.get("interruptRemapping").asString()).as("dmar0 IR verdict (evidence: %s)", dmar0.get("evidence"))
                .isEqualTo(iommu.interruptRemapping() ? "supported" : "unsupported");

        JsonNode k = doc.get("kernel");
        assertThat(k.get("vfio").asBoolean()).as("kernel.vfio").isEqualTo(truth.yes("module.vfio"));
        assertThat(k.get("vfioPci").asBoolean()).as("kernel.vfioPci")
                .isEqualTo(truth.yes("module.vfio_pci") || truth.yes("driver.vfio-pci"));
        assertThat(k.get("vfioIommuType1").asBoolean()).as("kernel.vfioIommuType1").isEqualTo(truth.yes("module.vfio_iommu_type1"));
        assertThat(k.get("iommufd").asBoolean()).as("kernel.iommufd").isEqualTo(kernel.hasIommufd());
        assertThat(k.get("iommufdNode").asBoolean()).as("kernel.iommufdNode").isEqualTo(truth.yes("dev.iommu"));
        assertThat(k.get("vfioContainerNode").asBoolean()).as("kernel.vfioContainerNode").isEqualTo(truth.yes("dev.vfio.vfio"));
        assertThat(booleanOrNull(k.get("type1AllowUnsafeInterrupts"))).as("kernel.type1AllowUnsafeInterrupts")
                .isEqualTo(truth.param("param.type1.allow_unsafe_interrupts"));
        assertThat(booleanOrNull(k.get("iommufdAllowUnsafeInterrupts"))).as("kernel.iommufdAllowUnsafeInterrupts")
                .isEqualTo(truth.param("param.iommufd.allow_unsafe_interrupts"));
    }

    private static String textOrNull(JsonNode n) {
        return n == null || n.isNull() ? null : n.asString();
    }

    private static Boolean booleanOrNull(JsonNode n) {
        return n == null || n.isNull() ? null : n.asBoolean();
    }
}
