package io.vfiobroker.binding;

import io.vfiobroker.domain.Device;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The binding journal shrinks after every clean release, not only after a crash. */
class JournalCompactionTest {

    @TempDir
    Path dir;

    @Test
    void aCleanReleaseCompactsTheJournalToWhatIsStillOwned() {
        Path root = HostTreeGenerator.generate(HostSpec.sriovScale(1, 2), dir.resolve("host"));
        InventoryScanner scanner = new InventoryScanner(new SimulatedKernelHost(root), PciIds.empty());
        BindingService s = new BindingService(new SimulatedKernelHost(root), scanner, new Journal(dir.resolve("state")), () -> BindingRules.DEFAULT);
        List<Device> vfs = scanner.scan().devices().stream().filter(Device::isVirtualFunction).toList();
        Device a = vfs.get(0);
        Device b = vfs.get(1);
        assertThat(a.iommuGroup()).isNotEqualTo(b.iommuGroup());
        s.bind(a.address(), false);
        s.bind(b.address(), false);
        assertThat(s.journal().readAll()).hasSizeGreaterThan(6); // two bind transactions: BEGIN, INTENT, DONE, COMMIT each

        s.release(a.iommuGroup(), true, false);
        List<Journal.Entry> left = s.journal().readAll();
        assertThat(left).singleElement().satisfies(e -> {
            assertThat(e.phase()).isEqualTo(Journal.Phase.SNAPSHOT);
            assertThat(e.device()).isEqualTo(b.address().toString());
            assertThat(e.originalDriver()).isEqualTo("iavf");
        });
        // What a restart replays is the same ownership.
        assertThat(new Journal(dir.resolve("state")).owned()).containsOnlyKeys(b.address());

        s.release(b.iommuGroup(), true, false);
        assertThat(s.journal().readAll()).isEmpty();
        assertThat(s.status()).isEmpty();
    }
}
