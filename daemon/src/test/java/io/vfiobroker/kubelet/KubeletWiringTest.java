package io.vfiobroker.kubelet;

import io.vfiobroker.nodeplugin.KubeletAllocationHook;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;

import static org.assertj.core.api.Assertions.assertThat;

/** The daemon with {@code vfio-broker.kubelet.enabled=true} on the demo host wires the device plugins to the core and the leases. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.NONE, properties = {"vfio-broker.demo=true",
        "vfio-broker.state-dir=${java.io.tmpdir}/vfio-broker-kubelet-wiring-${random.uuid}", "vfio-broker.kubelet.enabled=true",
        "vfio-broker.kubelet.pools[0].name=edu", "vfio-broker.kubelet.pools[0].selectors.vendorDevice=1234:*"})
class KubeletWiringTest {

    @Autowired
    KubeletPlugins plugins;
    @Autowired
    KubeletAllocationHook hook;

    @Test
    void theDevicePluginsListThePoolThroughTheCoreAndHandBrokerAllocationsToTheLeases() {
        assertThat(plugins.devices()).containsOnlyKeys("vfio-broker.io/edu");
        assertThat(plugins.devices().get("vfio-broker.io/edu")).isNotEmpty();
        assertThat(hook).isNotSameAs(KubeletAllocationHook.NONE);
    }
}
