package io.vfiobroker.nativeshim;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SysfsSnapshotTest {

    @TempDir
    Path dir;

    @Test
    void readsEntriesAttributesAndLinksInOneCall() throws Exception {
        Files.writeString(dir.resolve("uevent"), "DRIVER=iavf\nPCI_ID=8086:154C\n");
        Files.writeString(dir.resolve("numa_node"), "1\n");
        Files.createSymbolicLink(dir.resolve("iommu_group"), Path.of("../../../kernel/iommu_groups/42"));
        Files.createSymbolicLink(dir.resolve("virtfn0"), Path.of("../0000:3b:02.0"));
        Files.createSymbolicLink(dir.resolve("virtfn1"), Path.of("../0000:3b:02.1"));

        SysfsSnapshot s = SysfsSnapshot.read(dir.toString(), List.of("uevent", "numa_node", "missing"), List.of("iommu_group", "physfn"),
                "virtfn", true).orElseThrow();

        assertThat(s.entries()).containsExactlyInAnyOrder("uevent", "numa_node", "iommu_group", "virtfn0", "virtfn1");
        assertThat(s.files()).containsOnlyKeys("uevent", "numa_node");
        assertThat(s.files().get("uevent")).isEqualTo("DRIVER=iavf\nPCI_ID=8086:154C");
        assertThat(s.files().get("numa_node")).isEqualTo("1");
        assertThat(s.links()).containsEntry("iommu_group", "../../../kernel/iommu_groups/42")
                .containsEntry("virtfn0", "../0000:3b:02.0").containsEntry("virtfn1", "../0000:3b:02.1")
                .doesNotContainKey("physfn");
    }

    @Test
    void aMissingDirectoryIsEmptyAndBadNamesAreRefused() {
        assertThat(SysfsSnapshot.read(dir.resolve("nope").toString(), List.of("a"), List.of(), "", true)).isEmpty();
        assertThatThrownBy(() -> SysfsSnapshot.read(dir.toString(), List.of("../etc/passwd"), List.of(), "", false))
                .hasMessageContaining("'../etc/passwd'");
    }

    @Test
    void aLargeDirectoryGrowsTheBuffer() throws Exception {
        for (int i = 0; i < 3000; i++) Files.createFile(dir.resolve("entry-with-a-longish-name-" + i));
        assertThat(SysfsSnapshot.read(dir.toString(), List.of(), List.of(), "", true).orElseThrow().entries()).hasSize(3000);
    }
}
