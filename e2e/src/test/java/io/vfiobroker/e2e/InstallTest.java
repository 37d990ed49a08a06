package io.vfiobroker.e2e;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * deploy/install.sh below a temporary root: it installs the layout the launcher runs from in a checkout, which the
 * benchmarks measure (the thin jar with lib/, the node-agent JVM profile), and a class data archive that the JDK
 * takes for the installed jar, reached through /usr/local/bin as systemd's ExecStart reaches it.
 */
class InstallTest {

    private static final Path REPO = Path.of(System.getProperty("e2e.moduleDir", ".")).resolve("..").toAbsolutePath().normalize();

    @Test
    void installsTheMeasuredLayoutAndAnArchiveTheJdkTakesForTheInstalledJar(@TempDir Path root) throws Exception {
        Path log = root.resolve("install.log");
        assertThat(run(List.of(REPO.resolve("deploy/install.sh").toString()), List.of("VFIO_BROKER_ROOT=" + root), log))
                .as("install.sh: %s", Files.readString(log)).isZero();

        Path lib = root.resolve("usr/local/lib/vfio-broker");
        assertThat(lib.resolve("vfio-broker-exec.jar")).isRegularFile();
        assertThat(jars(lib.resolve("lib"))).isNotEmpty().isEqualTo(jars(REPO.resolve("daemon/target/cli/lib")));
        assertThat(lib.resolve("vfio-broker.jsa")).isRegularFile();
        assertThat(Files.size(lib.resolve("vfio-broker.jsa"))).isGreaterThan(1_000_000);
        assertThat(Files.readSymbolicLink(root.resolve("usr/local/bin/vfio-broker"))).isEqualTo(lib.resolve("bin/vfio-broker"));
        for (String f : List.of("etc/systemd/system/vfio-broker.service", "etc/tmpfiles.d/vfio-broker.conf",
                "etc/modules-load.d/vfio-broker.conf", "etc/vfio-broker/daemon.properties")) {
            assertThat(root.resolve(f)).isRegularFile();
        }

        // The JDK says where each class came from: the CLI's own classes from the archive's top (dynamic) layer.
        Path classes = root.resolve("classes.log");
        Path out = root.resolve("version.log");
        assertThat(run(List.of(root.resolve("usr/local/bin/vfio-broker").toString(), "--version"),
                List.of("JAVA_TOOL_OPTIONS=-Xlog:class+load=info:file=" + classes), out)).isZero();
        assertThat(Files.readString(out)).contains("vfio-broker 0.1.0");
        assertThat(Files.readAllLines(classes)).filteredOn(l -> l.contains(" io.vfiobroker.cli.Main "))
                .singleElement().asString().contains("source: shared objects file (top)");
    }

    private static List<String> jars(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".jar")).sorted().toList();
        }
    }

    private static int run(List<String> cmd, List<String> env, Path output) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(output.toFile());
        for (String e : env) pb.environment().put(e.substring(0, e.indexOf('=')), e.substring(e.indexOf('=') + 1));
        Process p = pb.start();
        if (!p.waitFor(3, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError(cmd + " did not finish in 3 minutes: " + Files.readString(output));
        }
        return p.exitValue();
    }
}
