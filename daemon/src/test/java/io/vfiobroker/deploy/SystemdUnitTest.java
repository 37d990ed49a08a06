package io.vfiobroker.deploy;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** deploy/vfio-broker.service as systemd itself reads it (systemd-analyze verify; bin/install-deps test installs it). */
class SystemdUnitTest {

    static final Path UNIT = Path.of("..", "deploy", "vfio-broker.service");

    @Test
    void theUnitVerifiesCleanlyAndReloadsWithSighup() throws Exception {
        String unit = Files.readString(UNIT);
        // SIGHUP makes the policy service re-read its file: the unit must offer `systemctl reload`.
        assertThat(unit).containsPattern("(?m)^ExecReload=.*kill -HUP \\$MAINPID$");
        assertThat(unit).containsPattern("(?m)^RuntimeDirectory=vfio-broker$");
        assertThat(Files.isExecutable(Path.of("/usr/bin/systemd-analyze")) || Files.isExecutable(Path.of("/bin/systemd-analyze")))
                .as("systemd-analyze is needed: bin/install-deps test installs the apt package systemd").isTrue();
        // verify checks that ExecStart exists; the installed binary is not here, so point it at one that is.
        Path dir = Files.createTempDirectory("vb-unit-");
        Path copy = dir.resolve("vfio-broker.service");
        Files.writeString(copy, unit.replace("ExecStart=/usr/local/bin/vfio-broker ", "ExecStart=/bin/true "));
        Process p = new ProcessBuilder("systemd-analyze", "verify", copy.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        // Warnings (unknown or misspelt settings) go to the output even with exit 0.
        assertThat(out.lines().filter(l -> l.contains("vfio-broker.service"))).as(out).isEmpty();
    }
}
