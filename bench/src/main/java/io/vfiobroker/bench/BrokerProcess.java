package io.vfiobroker.bench;

import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The production daemon as an operator runs it: {@code bin/vfio-broker daemon --root HOST} in its own process, with
 * every bean the daemon wires (metrics, events, SSE, accounting sampler, audit, lease store). Only the host is a
 * generated tree with the simulated kernel (sysfs reacts to writes, VFIO ioctls are the in-memory VfioKernelModel).
 * Run and state directories are the caller's; the state directory (audit log, journal, leases.json) should be on disk.
 */
final class BrokerProcess implements AutoCloseable {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    final Path runDir;
    final Path stateDir;
    final int port;
    private final Path log;
    private final Process process;

    BrokerProcess(Path repo, Path hostRoot, Path policy, Path runDir, Path stateDir, Path log) throws Exception {
        this.runDir = runDir;
        this.stateDir = stateDir;
        this.log = log;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        ProcessBuilder pb = new ProcessBuilder(List.of(repo.resolve("bin/vfio-broker").toString(), "daemon", "--root", hostRoot.toString(),
                "--port", Integer.toString(port))).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("SPRING_APPLICATION_JSON", JsonMapper.builder().build().writeValueAsString(Map.of(
                "vfio-broker.run-dir", runDir.toString(), "vfio-broker.state-dir", stateDir.toString(),
                "vfio-broker.simulate-kernel", "true", "vfio-broker.policy-file", policy.toString())));
        process = pb.start();
        awaitReady();
    }

    long pid() {
        return process.pid();
    }

    URI http(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    String get(String path) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(http(path)).timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) throw new IOException("GET " + path + " answered " + r.statusCode() + ": " + r.body());
        return r.body();
    }

    private void awaitReady() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (!(accepts(runDir.resolve("api.sock")) && healthy())) {
            if (!process.isAlive()) throw new IllegalStateException("daemon exited " + process.exitValue() + ": " + tail());
            if (System.nanoTime() > deadline) throw new IllegalStateException("daemon not ready in 3 min: " + tail());
            Thread.sleep(20);
        }
    }

    static boolean accepts(Path socket) {
        if (!Files.exists(socket)) return false;
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            return c.isConnected();
        } catch (IOException e) {
            return false;
        }
    }

    private boolean healthy() throws InterruptedException {
        try {
            return HTTP.send(HttpRequest.newBuilder(http("/actuator/health")).timeout(Duration.ofSeconds(2)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (IOException e) {
            return false;
        }
    }

    String tail() throws IOException {
        List<String> l = Files.readAllLines(log);
        return String.join("\n", l.subList(Math.max(0, l.size() - 12), l.size()));
    }

    @Override
    public void close() throws Exception {
        process.destroy(); // SIGTERM, as systemd stops it
        if (!process.waitFor(30, TimeUnit.SECONDS)) process.destroyForcibly().waitFor();
    }
}
