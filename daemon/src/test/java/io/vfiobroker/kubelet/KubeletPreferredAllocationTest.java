package io.vfiobroker.kubelet;

import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.nodeplugin.PoolDevice;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class KubeletPreferredAllocationTest {

    private static final Map<String, PoolDevice> POOL = new LinkedHashMap<>();

    private static void dev(String addr, int group, int numa) {
        POOL.put(addr, new PoolDevice(PciAddress.parse(addr), group, numa, null));
    }

    static {
        // node 0: group 10 has three pool devices, group 11 one; node 1: groups 20 and 21, two each.
        dev("0000:01:02.0", 10, 0);
        dev("0000:01:02.1", 10, 0);
        dev("0000:01:02.2", 10, 0);
        dev("0000:01:03.0", 11, 0);
        dev("0000:81:02.0", 20, 1);
        dev("0000:81:02.1", 20, 1);
        dev("0000:81:03.0", 21, 1);
        dev("0000:81:03.1", 21, 1);
    }

    private static List<String> choose(List<String> must, int size) {
        return PreferredAllocation.choose(List.copyOf(POOL.keySet()), must, size, POOL);
    }

    @Test
    void aRequestThatFitsWholeGroupsTakesThemAndStaysOnOneNode() {
        assertThat(choose(List.of(), 4)).containsExactlyInAnyOrder("0000:01:02.0", "0000:01:02.1", "0000:01:02.2", "0000:01:03.0");
        // Two: node 0 would split group 10, node 1 has a whole group of two.
        assertThat(choose(List.of(), 2)).containsExactlyInAnyOrder("0000:81:02.0", "0000:81:02.1");
    }

    @Test
    void oneDeviceComesFromASingletonGroupRatherThanSplittingOne() {
        assertThat(choose(List.of(), 1)).containsExactly("0000:01:03.0");
    }

    @Test
    void mustIncludeFixesTheNodeAndItsGroupSiblingsComeFirst() {
        assertThat(choose(List.of("0000:01:02.1"), 3)).containsExactly("0000:01:02.1", "0000:01:02.0", "0000:01:02.2");
    }

    @Test
    void aRequestLargerThanAnyNodeSpillsOverAndUnhealthyDevicesAreAvoided() {
        Map<String, PoolDevice> pool = new LinkedHashMap<>(POOL);
        pool.put("0000:01:03.0", new PoolDevice(PciAddress.parse("0000:01:03.0"), 11, 0, "withdrawn"));
        List<String> got = PreferredAllocation.choose(List.copyOf(pool.keySet()), List.of(), 8, pool);
        assertThat(got).hasSize(8).doesNotHaveDuplicates().last().isEqualTo("0000:01:03.0");
    }
}
