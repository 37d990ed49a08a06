package io.vfiobroker.nativeshim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The native pass over /proc finds another process's fd on a file, by the link's text, and nothing else. */
class FdLinksTest {

    @TempDir
    Path dir;

    @Test
    void aChildHoldingTheFileOnFd7IsFoundAndTheCallerIsSkipped() throws Exception {
        Path held = Files.createFile(dir.resolve("held"));
        Path notHeld = Files.createFile(dir.resolve("not-held"));
        Process child = new ProcessBuilder("bash", "-c", "exec 7<'" + held + "'; echo ready; exec sleep 30").start();
        try {
            assertThat(new String(child.getInputStream().readNBytes(6))).isEqualTo("ready\n");
            int self = (int) ProcessHandle.current().pid();
            try (var in = Files.newInputStream(held)) { // the caller holds it too, and is skipped
                List<FdLinks.Match> found = FdLinks.find("/proc", List.of(notHeld.toString(), held.toString()), self);

                assertThat(found).containsExactly(new FdLinks.Match((int) child.pid(), 7, 1));
                assertThat(FdLinks.find("/proc", List.of(held.toString()), -1)).extracting(FdLinks.Match::pid)
                        .contains((int) child.pid(), self);
            }
        } finally {
            child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        assertThat(FdLinks.find("/proc", List.of(held.toString()), -1)).isEmpty();
    }

    @Test
    void badInputIsNamed() {
        assertThatThrownBy(() -> FdLinks.find(dir.resolve("no-proc").toString(), List.of("/x"), -1))
                .isInstanceOf(NativeException.class).hasMessageContaining("no-proc");
        assertThatThrownBy(() -> FdLinks.find("/proc", List.of(""), -1)).hasMessageContaining("link text");
        assertThat(FdLinks.find("/proc", List.of(), -1)).isEmpty();
    }
}
