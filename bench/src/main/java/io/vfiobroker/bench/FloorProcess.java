package io.vfiobroker.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A {@link FloorServer} process, started with the JVM options the daemon's launcher gives a daemon. */
final class FloorProcess implements AutoCloseable {

    final Path dir;
    final long pid;
    private final Process process;

    FloorProcess(Path parent) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xshare:auto",
                "-Dlogback.configurationFile=lease-bench-logback.xml", "-cp", LeaseBench.childClassPath(), FloorServer.class.getName(), parent.toString()));
        process = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String line = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)).readLine();
        if (line == null || !line.startsWith("READY ")) throw new IllegalStateException("floor server did not start: " + line);
        String[] f = line.split(" ");
        dir = Path.of(f[1]);
        pid = Long.parseLong(f[2]);
    }

    @Override
    public void close() throws Exception {
        process.getOutputStream().close(); // FloorServer serves until its stdin closes
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor();
    }
}
