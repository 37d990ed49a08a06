package io.vfiobroker.inventory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

class PciIdsTest {

    @TempDir
    Path dir;

    @Test
    void vendorAndDeviceNamesAsTheDatabaseSpellsThem() throws Exception {
        Path file = dir.resolve("pci.ids");
        Files.writeString(file, """
                # comment
                8086  Intel Corporation
                \t154c  Ethernet Virtual Function 700 Series\s\s
                \t\t8086 0000  a subsystem, skipped
                ffff  Illegal Vendor ID
                \t1234  first
                \t1234  second, which wins
                1af4  Red Hat, Inc. \u00a0
                \t1041  Virtio network device

                C 00  Unclassified device
                \t00  Non-VGA unclassified device
                """, StandardCharsets.ISO_8859_1);
        PciIds ids = PciIds.load(file);
        assertThat(ids.vendor("8086")).contains("Intel Corporation");
        assertThat(ids.device("8086", "154c")).contains("Ethernet Virtual Function 700 Series");
        assertThat(ids.device("8086", "0000")).isEmpty();
        assertThat(ids.device("ffff", "1234")).contains("second, which wins");
        assertThat(ids.vendor("1af4")).contains("Red Hat, Inc. \u00a0");
        assertThat(ids.device("1af4", "1041")).contains("Virtio network device");
        assertThat(ids.vendor("0000")).isEmpty(); // the class section's "00" is no vendor
        assertThat(ids.device("1af4", "154c")).isEmpty();
        assertThat(ids.vendor("8086 ")).isEmpty();
        assertThat(ids.vendor("0x8086")).isEmpty();
        assertThat(ids.vendor(null)).isEqualTo(Optional.empty());
    }

    @Test
    void noDatabaseNamesNothing() {
        assertThat(PciIds.empty().vendor("8086")).isEmpty();
        assertThat(PciIds.empty().device("8086", "154c")).isEmpty();
    }
}
