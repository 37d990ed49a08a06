package io.vfiobroker.lease;

import io.vfiobroker.domain.PciAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LeaseStoreTest {

    @TempDir
    Path dir;

    private static LeaseStore.Stored lease(int n) {
        return new LeaseStore.Stored("lease-" + n, 1000 + n, 42L + n, 65534, 65534,
                List.of(new Lease.Device(PciAddress.parse(String.format("0000:07:02.%d", n % 8)), 10 + n, "8086:154c")),
                io.vfiobroker.domain.Backend.LEGACY, false, "rule", 1L << 20, true, "2026-11-25T00:00:00Z");
    }

    @Test
    void changesAreAppendedAndReadBackAsTheActiveSet() throws Exception {
        Path file = dir.resolve("leases.json");
        LeaseStore store = new LeaseStore(file);
        store.added(lease(1));
        store.added(lease(2));
        store.ended("lease-1");
        store.ended("lease-9"); // never added: nothing to write
        assertThat(Files.readAllLines(file)).hasSize(3);
        assertThat(new LeaseStore(file).read()).containsExactly(lease(2));
    }

    @Test
    void theFileIsRewrittenWhenEndedLeasesOutnumberActiveOnes() throws Exception {
        Path file = dir.resolve("leases.json");
        LeaseStore store = new LeaseStore(file);
        store.added(lease(0));
        for (int i = 1; i <= 200; i++) {
            store.added(lease(i));
            store.ended("lease-" + i);
        }
        assertThat(Files.readAllLines(file).size()).isLessThan(70);
        assertThat(new LeaseStore(file).read()).containsExactly(lease(0));
        store.added(lease(7)); // appends after a rewrite go to the new file
        assertThat(new LeaseStore(file).read()).containsExactly(lease(0), lease(7));
    }

    @Test
    void aTornLastLineIsSkippedButATornMiddleLineIsAnError() throws Exception {
        Path file = dir.resolve("leases.json");
        LeaseStore store = new LeaseStore(file);
        store.added(lease(1));
        Files.writeString(file, "{\"op\":\"add\",\"id\":\"lea", StandardOpenOption.APPEND);
        assertThat(new LeaseStore(file).read()).containsExactly(lease(1));
        Files.writeString(file, "\n" + Files.readAllLines(file).get(0) + "\n", StandardOpenOption.APPEND);
        assertThatThrownBy(() -> new LeaseStore(file).read()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("cannot read lease store " + file);
    }

    @Test
    void theArrayFormOfEarlierVersionsIsTakenOver() throws Exception {
        Path file = dir.resolve("leases.json");
        String array = tools.jackson.databind.json.JsonMapper.builder().addModule(io.vfiobroker.json.DomainJson.module()).build()
                .writeValueAsString(List.of(lease(1), lease(2)));
        Files.writeString(file, array);
        LeaseStore store = new LeaseStore(file);
        assertThat(store.read()).containsExactly(lease(1), lease(2));
        store.write(store.read()); // what a daemon does on taking the store over: the file is lines from then on
        store.ended("lease-1");
        assertThat(new LeaseStore(file).read()).containsExactly(lease(2));
    }

    @Test
    void anEndRecordedBeforeItsAddLeavesNothingForARestartToAdopt() throws Exception {
        Path file = dir.resolve("leases.json");
        LeaseStore store = new LeaseStore(file);
        store.added(lease(1));
        store.ended("lease-2"); // the client exited between the commit and the add: its end ran first
        store.added(lease(2));
        store.added(lease(3));
        assertThat(new LeaseStore(file).read()).containsExactly(lease(1), lease(3));
    }

    @Test
    void aWriteThatFailsHalfwayLeavesNoTornLineForTheNextOneToRunInto() throws Exception {
        Path file = dir.resolve("leases.json");
        HalfFullDisk disk = new HalfFullDisk();
        LeaseStore store = new LeaseStore(file, disk::open);
        store.added(lease(1));
        disk.failNext = true;
        assertThatThrownBy(() -> store.added(lease(2))).hasMessageContaining("cannot write lease store").hasMessageContaining("No space left");
        assertThat(disk.halfWritten).as("the stand-in wrote part of the line").isTrue();
        store.added(lease(3)); // space again

        assertThat(new LeaseStore(file).read()).as("what a restart reads").containsExactly(lease(1), lease(3));
    }

    /** The file's channel, whose write after {@code failNext} writes half of what it is given and fails, as a full disk. */
    private static final class HalfFullDisk {
        volatile boolean failNext;
        volatile boolean halfWritten;

        java.nio.channels.FileChannel open(Path f) throws java.io.IOException {
            java.nio.channels.FileChannel real = java.nio.channels.FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.APPEND);
            return new ForwardingChannel(real) {
                @Override
                public int write(java.nio.ByteBuffer src) throws java.io.IOException {
                    if (!failNext) return super.write(src);
                    failNext = false;
                    java.nio.ByteBuffer half = src.duplicate();
                    half.limit(src.position() + src.remaining() / 2);
                    super.write(half);
                    halfWritten = true;
                    throw new java.io.IOException("No space left on device");
                }
            };
        }
    }
}
