package io.vfiobroker.host;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LinuxSysfsHostTest {

    @TempDir
    Path root;

    @ParameterizedTest
    @ValueSource(strings = {"../etc/passwd", "sys/../../etc", "/etc/passwd", "sys//bus", "sys/./bus", ""})
    void refusesPathsThatCouldLeaveTheRoot(String path) throws Exception {
        Files.createDirectories(root.resolve("sys"));
        LinuxSysfsHost host = new LinuxSysfsHost(root);
        assertThatThrownBy(() -> host.read(path)).isInstanceOf(HostPathException.class).hasMessageContaining("'" + path + "'");
        assertThatThrownBy(() -> host.write(path, "x")).isInstanceOf(HostPathException.class);
    }

    @Test
    void aRootWithoutSysIsNotAHostTree() {
        assertThatThrownBy(() -> new LinuxSysfsHost(root)).hasMessageContaining("no sys/ directory");
        assertThatThrownBy(() -> new LinuxSysfsHost(root.resolve("missing"))).hasMessageContaining("is not a directory");
    }

    @Test
    void readsTrimmedAttributesAndLinkNames() throws Exception {
        Files.createDirectories(root.resolve("sys/bus/pci/drivers/igb"));
        Files.writeString(root.resolve("sys/attr"), "0x8086\n");
        Files.createSymbolicLink(root.resolve("sys/driver"), Path.of("bus/pci/drivers/igb"));
        LinuxSysfsHost host = new LinuxSysfsHost(root);
        assertThat(host.read("sys/attr")).contains("0x8086");
        assertThat(host.read("sys/missing")).isEmpty();
        assertThat(host.linkName("sys/driver")).contains("igb");
        assertThat(host.linkName("sys/attr")).isEmpty();
        assertThat(host.list("sys")).containsExactlyInAnyOrder("bus", "attr", "driver");
    }

    @Test
    void writesReplaceTheValueAndNeverCreateAttributes() throws Exception {
        Files.createDirectories(root.resolve("sys"));
        Files.writeString(root.resolve("sys/driver_override"), "(null)\n");
        LinuxSysfsHost host = new LinuxSysfsHost(root);
        host.write("sys/driver_override", "vfio-pci");
        assertThat(Files.readString(root.resolve("sys/driver_override"))).isEqualTo("vfio-pci");
        assertThatThrownBy(() -> host.write("sys/new_attr", "1")).isInstanceOf(java.nio.file.NoSuchFileException.class);
        assertThat(root.resolve("sys/new_attr")).doesNotExist();
    }
}
