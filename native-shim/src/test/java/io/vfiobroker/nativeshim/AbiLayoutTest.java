package io.vfiobroker.nativeshim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The Java mirrors against the C compiler: every size, offset and constant, in both directions. The e2e suite checks
 * the same report against the built kernel's own uapi headers (KernelHeadersAbiIT).
 */
class AbiLayoutTest {

    @Test
    void everyMirroredStructAndConstantIsTheCompilers() {
        AbiReport c = AbiReport.ofShim();
        assertThat(c.structs()).hasSizeGreaterThan(15);
        assertThat(c.constants()).containsKeys("VFIO_GROUP_SET_CONTAINER", "IOMMU_IOAS_MAP", "VFIO_DEVICE_BIND_IOMMUFD");

        assertThat(AbiReport.ofJavaMirrors().differences(c)).as("Java mirror (this) vs C compiler (other)").isEmpty();
    }

    @Test
    void aDisagreementIsNamed() {
        AbiReport c = AbiReport.ofShim();
        Map<String, Long> constants = new TreeMap<>(c.constants());
        constants.put("VFIO_DEVICE_RESET", constants.get("VFIO_DEVICE_RESET") + 1);
        Map<String, Map<String, Long>> structs = new TreeMap<>(c.structs());
        Map<String, Long> status = new LinkedHashMap<>(structs.get("vfio_group_status"));
        status.put("flags", 8L);
        structs.put("vfio_group_status", status);

        assertThat(new AbiReport(structs, constants).differences(c))
                .anyMatch(l -> l.startsWith("VFIO_DEVICE_RESET: this "))
                .anyMatch(l -> l.startsWith("struct vfio_group_status: this "))
                .hasSize(2);
        assertThatThrownBy(() -> AbiReport.parse("nonsense")).hasMessageContaining("not an ABI report");
    }

    @Test
    void errnoNamesComeFromTheTable() {
        assertThat(Errno.name(Errno.EBUSY)).isEqualTo("EBUSY");
        assertThat(Errno.name(Errno.ENOTTY)).isEqualTo("ENOTTY");
        assertThat(Errno.name(4095)).isEqualTo("errno 4095");
    }
}
