package io.vfiobroker.core;

import io.vfiobroker.binding.BindingRules;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import io.vfiobroker.policy.Principal;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The facade's prepare: policy for all before any bind, exactly what it bound in the answer, and nothing left after a failure. */
class DeviceProvisioningTest {

    static final Principal WHO = Principal.resource("vfio-broker.io/x710-vf");

    @TempDir
    Path dir;
    Path root;
    InventoryScanner scanner;
    BindingService binding;
    DeviceProvisioning core;
    final Set<PciAddress> refused = new HashSet<>();
    List<PciAddress> vfs;

    @BeforeEach
    void host() {
        root = HostTreeGenerator.generate(HostSpec.sriovScale(1, 3), dir.resolve("host"));
        SimulatedKernelHost host = new SimulatedKernelHost(root);
        scanner = new InventoryScanner(host, PciIds.empty());
        binding = new BindingService(host, scanner, new Journal(dir.resolve("state")), () -> BindingRules.DEFAULT);
        core = new DeviceProvisioning(scanner, binding,
                (w, d, i) -> refused.contains(d) ? Optional.of(d + " is not for " + w.kubernetesResource()) : Optional.empty());
        vfs = scanner.scan().devices().stream().filter(Device::isVirtualFunction).map(Device::address).toList();
    }

    private String driver(PciAddress a) {
        return scanner.device(a).orElseThrow().driver();
    }

    private int group(PciAddress a) {
        return scanner.device(a).orElseThrow().iommuGroup();
    }

    @Test
    void aPrepareRefusedByPolicyBindsNothingEvenForTheDevicesItGrants() {
        refused.add(vfs.get(1));
        assertThatThrownBy(() -> core.prepare(WHO, List.of(vfs.get(0), vfs.get(1)), true))
                .isInstanceOfSatisfying(PrepareException.class, e -> {
                    assertThat(e.kind()).isEqualTo(PrepareException.Kind.POLICY);
                    assertThat(e.device()).isEqualTo(vfs.get(1));
                    assertThat(e.getMessage()).isEqualTo(vfs.get(1) + " is not for vfio-broker.io/x710-vf");
                });
        assertThat(driver(vfs.get(0))).isEqualTo("iavf");
        assertThat(core.owned()).isEmpty();
        assertThat(binding.changes()).isZero();
    }

    @Test
    void aPrepareReturnsExactlyTheGroupsItBound() {
        core.prepare(WHO, List.of(vfs.get(0)), true);
        // vfs[0]'s group is ours already, vfs[1] is asked for twice: one bind, of vfs[1]'s group.
        DeviceProvisioning.Prepared p = core.prepare(WHO, List.of(vfs.get(0), vfs.get(1), vfs.get(1)), true);
        assertThat(p.boundGroups()).containsExactly(group(vfs.get(1)));
        assertThat(p.bound()).singleElement().satisfies(plan -> assertThat(plan.members()).extracting(m -> m.address())
                .containsExactly(vfs.get(1)));
        assertThat(driver(vfs.get(1))).isEqualTo("vfio-pci");
        assertThat(core.originalDrivers()).containsOnlyKeys(vfs.get(0), vfs.get(1)).containsValue("iavf");

        // Only the device's group, and only while ours.
        assertThat(core.release(group(vfs.get(1)), true)).isTrue();
        assertThat(core.release(group(vfs.get(1)), true)).isFalse();
        assertThat(driver(vfs.get(1))).isEqualTo("iavf");
    }

    @Test
    void aPrepareWithoutBindAsksPolicyAndChangesNothing() {
        assertThat(core.prepare(WHO, vfs, false).bound()).isEmpty();
        assertThat(vfs).allSatisfy(a -> assertThat(driver(a)).isEqualTo("iavf"));
        refused.add(vfs.get(2));
        assertThatThrownBy(() -> core.prepare(WHO, vfs, false)).isInstanceOf(PrepareException.class);
    }

    @Test
    void aFailedBindUndoesTheGroupsThePrepareHadBound() throws Exception {
        Files.createDirectories(root.resolve(".sim/fail"));
        Files.writeString(root.resolve(".sim/fail/" + vfs.get(2)), "drivers_probe");
        assertThatThrownBy(() -> core.prepare(WHO, vfs, true))
                .isInstanceOfSatisfying(PrepareException.class, e -> {
                    assertThat(e.kind()).isEqualTo(PrepareException.Kind.BIND_FAILED);
                    assertThat(e.device()).isEqualTo(vfs.get(2));
                    assertThat(e.getMessage()).startsWith("cannot bind " + vfs.get(2) + ": ");
                });
        assertThat(vfs).allSatisfy(a -> assertThat(driver(a)).isEqualTo("iavf"));
        assertThat(core.owned()).isEmpty();
    }

    @Test
    void theCliBuildsItsOfflineCoreByTheDaemonsRules() throws Exception {
        Path policy = dir.resolve("policy.yaml");
        CoreWiring.Local none = CoreWiring.local(root, true, dir.resolve("cli-state"), policy, "/proc", false);
        assertThat(none.rulesNote()).isEqualTo("no policy file at " + policy + ", so no binding rules");
        assertThat(none.core().bind(vfs.get(0).toString(), null, false, "test").members()).isNotEmpty();
        assertThat(none.core().owned()).containsKey(vfs.get(0));

        Files.writeString(policy, "rules: [ {");
        assertThatThrownBy(() -> CoreWiring.local(root, true, dir.resolve("cli-state"), policy, "/proc", false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("policy file " + policy + " is invalid");
    }
}
