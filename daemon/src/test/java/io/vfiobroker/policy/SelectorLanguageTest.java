package io.vfiobroker.policy;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.domain.PciClass;
import io.vfiobroker.domain.Sriov;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The one selector language (docs/selectors.md): pools read it with the policy's parser and match with its code. */
class SelectorLanguageTest {

    static final PciAddress PF = PciAddress.parse("0000:3b:00.0");

    static Device vf(int i, String driver) {
        return new Device(PciAddress.parse("0000:3b:02." + i), "8086", "154c", null, null, new PciClass(0x020000), null, null,
                driver, null, 0, List.of(), false, 10 + i, null, null, PF);
    }

    /** Facts as a pool sees them: PF netdev ens1f0, VFs 0..3 in order, VF 1 bound by vfio-broker away from iavf. */
    static final SelectorFacts FACTS = new SelectorFacts() {
        public Map<String, DeviceSelector> labels() {
            return Map.of();
        }

        public String driverBefore(Device d) {
            return d.address().function() == 1 ? "iavf" : d.driver();
        }

        public boolean namesPf(PciAddress pf, String name) {
            return SelectorFacts.super.namesPf(pf, name) || (pf.equals(PF) && name.equals("ens1f0"));
        }

        public int vfIndex(Device vf) {
            return vf.address().function();
        }
    };

    @Test
    void aPoolSelectorUsesThePolicyKeysPlusDriverAndPfName() {
        DeviceSelector s = DeviceSelector.pool(Map.of("vendorDevice", List.of("8086:154c"), "driver", List.of("iavf"),
                "pfName", List.of("ens1f0#1-2")), "pool 'x' selectors");
        assertThat(s.matches(vf(0, "iavf"), FACTS, null)).as("index 0 is outside #1-2").isFalse();
        assertThat(s.matches(vf(1, "vfio-pci"), FACTS, null)).as("its driver before binding counts").isTrue();
        assertThat(s.matches(vf(2, "iavf"), FACTS, null)).isTrue();
        assertThat(s.matches(vf(2, "vfio-pci"), FACTS, null)).as("bound by someone else: the current driver counts").isFalse();
        assertThat(DeviceSelector.pool(Map.of("pfName", List.of(PF.toString())), "p").matches(vf(3, "iavf"), FACTS, null)).isTrue();
    }

    @Test
    void thePolicyFileRefusesThePoolOnlyCriteria() {
        assertThatThrownBy(() -> PolicyParser.parse("version: 1\nbinding:\n  allow: [{driver: iavf}]\n", "p.yaml"))
                .hasMessageContaining("binding.allow[0].driver").hasMessageContaining("pool");
        assertThatThrownBy(() -> DeviceSelector.pool(Map.of("label", List.of("x")), "pool 'x' selectors"))
                .hasMessageContaining("pool 'x' selectors.label");
        assertThatThrownBy(() -> DeviceSelector.pool(Map.of("pfName", List.of("ens1f0#x")), "p")).hasMessageContaining("ens1f0#x");
    }
}
