package io.vfiobroker.hostgen;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DemoHostsTest {

    @TempDir
    Path dir;

    @Test
    void aNewDemoDirectoryIsInMemoryWhereDevShmIsATmpfs() throws Exception {
        Path d = DemoHosts.newDirectory();
        try {
            assertThat(d.getFileName().toString()).matches("vfio-broker-demo-[0-9a-z]{1,6}");
            assertThat(java.nio.file.Files.getPosixFilePermissions(d)).isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
            if (DemoHosts.inMemory(Path.of("/dev/shm"))) {
                assertThat(d.getParent()).isEqualTo(Path.of("/dev/shm"));
                assertThat(Files.getFileStore(d).type()).isEqualTo("tmpfs");
            } else {
                assertThat(d.getParent()).isEqualTo(Path.of(System.getProperty("java.io.tmpdir")));
            }
        } finally {
            Files.delete(d);
        }
        assertThat(DemoHosts.inMemory(dir)).as("a @TempDir below /tmp on disk").isEqualTo("tmpfs".equals(Files.getFileStore(dir).type()));
        assertThat(DemoHosts.inMemory(dir.resolve("missing"))).isFalse();
    }

    @Test
    void aTreeStartedEarlyIsTheOneAwaitedAndIsWrittenOnce() {
        Path root = dir.resolve("host");
        DemoHosts.startWriting(root);
        DemoHosts.startWriting(root); // a second start is the same writing, not a second tree into a non-empty root
        assertThat(DemoHosts.await(root)).isEqualTo(root);
        assertThat(Files.isDirectory(root.resolve("sys/bus/pci/devices"))).isTrue();
    }

    @Test
    void withoutAnEarlyStartTheTreeIsWrittenWhenAwaited() {
        Path root = dir.resolve("host");
        assertThat(DemoHosts.await(root)).isEqualTo(root);
        assertThat(Files.isDirectory(root.resolve("sys/bus/pci/devices"))).isTrue();
    }

    @Test
    void aWriterThatFailedFailsTheAwaitWithItsOwnError() throws Exception {
        Path root = Files.createDirectories(dir.resolve("host"));
        Files.writeString(root.resolve("left-over"), "x");
        DemoHosts.startWriting(root);
        assertThatThrownBy(() -> DemoHosts.await(root)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not empty");
    }

    @Test
    void settlingWaitsForAStartedWriterAndWritesNothingItself() {
        Path started = dir.resolve("started");
        DemoHosts.startWriting(started);
        DemoHosts.settle(started);
        assertThat(Files.isDirectory(started.resolve("sys/bus/pci/devices"))).as("the writer had finished").isTrue();

        Path never = dir.resolve("never");
        DemoHosts.settle(never);
        DemoHosts.settle(started); // settled already: nothing left to wait for
        assertThat(never).doesNotExist();
    }
}
