package io.vfiobroker.bench;

import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What a node agent costs: the production launcher ({@code bin/vfio-broker daemon}) in its own process, on the demo
 * host and on a generated 64 PF × 128 VF host; ready time from exec to api.sock accepting and to HTTP health answering,
 * RSS/PSS and threads after an idle wait, and again after N full inventory requests. Prints each budget as PASS or
 * OVER and never fails: a miss is a number to read, not a broken build.
 * Args: [idleSeconds=60] [requests=100] [hosts=demo,big]. JVM options reach the daemon through VFIO_BROKER_JAVA_OPTS.
 */
public final class FootprintBench {

    static final double READY_BUDGET_S = 2.0;
    static final double DEMO_IDLE_BUDGET_MB = 160;
    static final double BIG_BUDGET_MB = 256;

    record Sample(double rssMb, double pssMb, int threads) {
        @Override
        public String toString() {
            return "RSS %.1f MB, PSS %.1f MB, %d threads".formatted(rssMb, pssMb, threads);
        }
    }

    record Result(String host, int devices, double readyApiS, double readyHealthS, Sample idle, Sample afterRequests,
                  double requestP50Ms, int requests) {
    }

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    public static void main(String[] args) throws Exception {
        int idle = args.length > 0 ? Integer.parseInt(args[0]) : 60;
        int requests = args.length > 1 ? Integer.parseInt(args[1]) : 100;
        List<String> hosts = Arrays.asList((args.length > 2 ? args[2] : "demo,big").split(","));
        String javaOpts = System.getenv("VFIO_BROKER_JAVA_OPTS");
        Path launcher = Path.of(System.getProperty("bench.repo", ".")).toAbsolutePath().resolve("bin/vfio-broker");
        BenchResults results = BenchResults.open("footprint").param("idleSeconds", idle).param("requests", requests)
                .param("hosts", hosts).param("VFIO_BROKER_JAVA_OPTS", javaOpts == null ? "(launcher defaults)" : javaOpts);
        System.out.printf("footprint: %s daemon, idle %d s, %d × GET /api/v1/devices, JVM options: %s%n", launcher, idle, requests,
                javaOpts == null ? "the launcher's defaults" : javaOpts);
        List<Result> all = new ArrayList<>();
        for (String host : hosts) {
            Result r;
            try {
                r = measure(launcher, host.trim(), idle, requests);
            } catch (Exception e) { // a daemon that dies (say, out of heap) is a result too
                System.out.println(host + " host: FAILED: " + e.getMessage());
                results.param(host + ".failed", String.valueOf(e.getMessage()));
                continue;
            }
            all.add(r);
            String k = r.host() + ".";
            results.number(k + "devices", r.devices()).number(k + "readyApiSeconds", r.readyApiS())
                    .number(k + "readyHealthSeconds", r.readyHealthS())
                    .number(k + "idleRssMb", r.idle().rssMb()).number(k + "idlePssMb", r.idle().pssMb()).number(k + "idleThreads", r.idle().threads());
            if (r.afterRequests() != null) {
                results.number(k + "afterRequestsRssMb", r.afterRequests().rssMb()).number(k + "afterRequestsPssMb", r.afterRequests().pssMb())
                        .number(k + "afterRequestsThreads", r.afterRequests().threads()).number(k + "requestP50Ms", r.requestP50Ms());
            }
        }
        System.out.println("budgets (MB = 10^6 bytes; figures from a loaded 2-core machine are the machine's as much as the daemon's):");
        for (Result r : all) {
            if (r.host().equals("demo")) {
                budget("demo: ready, exec → api.sock accepting", r.readyApiS(), READY_BUDGET_S, "s");
                budget("demo: RSS idle after " + idle + " s", r.idle().rssMb(), DEMO_IDLE_BUDGET_MB, "MB");
                budget("demo: PSS idle after " + idle + " s", r.idle().pssMb(), DEMO_IDLE_BUDGET_MB, "MB");
            } else {
                if (r.afterRequests() == null) {
                    System.out.printf("  %-4s %s%n", "OVER", r.host() + ": after " + requests + " inventory requests: not measured (requests refused)");
                    continue;
                }
                budget(r.host() + ": RSS after " + r.requests() + " inventory requests", r.afterRequests().rssMb(), BIG_BUDGET_MB, "MB");
                budget(r.host() + ": PSS after " + r.requests() + " inventory requests", r.afterRequests().pssMb(), BIG_BUDGET_MB, "MB");
            }
        }
        results.write();
    }

    private static void budget(String what, double value, double limit, String unit) {
        System.out.printf("  %-4s %-52s %8.2f %s (budget < %.1f %s)%n", value < limit ? "PASS" : "OVER", what, value, unit, limit, unit);
    }

    static Result measure(Path launcher, String host, int idleSeconds, int requests) throws Exception {
        Path dir = Files.createTempDirectory("vb-footprint-");
        try {
            Path run = dir.resolve("run");
            List<String> cmd = new ArrayList<>(List.of(launcher.toString(), "daemon"));
            int devices;
            if (host.equals("demo")) {
                cmd.add("--demo");
                devices = -1;
            } else if (host.equals("big")) {
                Path root = HostTreeGenerator.generate(HostSpec.sriovScale(64, 128), dir.resolve("host"));
                try (var s = Files.list(root.resolve("sys/bus/pci/devices"))) {
                    devices = (int) s.count();
                }
                cmd.addAll(List.of("--root", root.toString()));
            } else {
                throw new IllegalArgumentException("host is demo or big, not " + host);
            }
            int port;
            try (ServerSocket s = new ServerSocket(0)) {
                port = s.getLocalPort();
            }
            cmd.addAll(List.of("--port", String.valueOf(port)));
            if (!host.equals("demo")) {
                // Run and state directories of the bench's own, on disk below /tmp (not /var), in a config file as
                // systemd's unit passes one. The demo runs as bin/demo runs it: its sockets and state in its own tree.
                Path config = dir.resolve("daemon.properties");
                Files.writeString(config, "vfio-broker.run-dir=" + run + "\nvfio-broker.state-dir=" + dir.resolve("state")
                        + "\nvfio-broker.simulate-kernel=true\n");
                cmd.addAll(List.of("--config", config.toString()));
            }
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("daemon.log").toFile());
            settle();
            long t0 = System.nanoTime();
            Process p = pb.start();
            try {
                double readyApi = -1, readyHealth = -1;
                Path api = host.equals("demo") ? null : run.resolve("api.sock");
                long deadline = t0 + TimeUnit.MINUTES.toNanos(5);
                while (readyApi < 0 || readyHealth < 0) {
                    if (!p.isAlive()) throw new IllegalStateException("daemon exited " + p.exitValue() + ": " + tail(dir.resolve("daemon.log")));
                    if (System.nanoTime() > deadline) throw new IllegalStateException("daemon not ready in 5 min: " + tail(dir.resolve("daemon.log")));
                    if (host.equals("demo") && api == null) api = demoRunDir(dir.resolve("daemon.log")).map(r -> r.resolve("api.sock")).orElse(null);
                    if (readyApi < 0 && api != null && BrokerProcess.accepts(api)) readyApi = (System.nanoTime() - t0) / 1e9;
                    // HTTP only once the port takes a connection: an HTTP client's attempt every 5 ms is CPU the
                    // starting daemon shares on 2 cores. Tomcat opens its port after api.sock, so nothing is missed.
                    if (readyApi >= 0 && readyHealth < 0 && listening(port) && healthy(port)) readyHealth = (System.nanoTime() - t0) / 1e9;
                    Thread.sleep(5);
                }
                System.out.printf("%s host%s: ready %.2f s to api.sock accepting, %.2f s to HTTP health answering (pid %d)%n", host,
                        devices > 0 ? " (" + devices + " PCI devices)" : "", readyApi, readyHealth, p.pid());
                Thread.sleep(TimeUnit.SECONDS.toMillis(idleSeconds));
                Sample idle = sample(p.pid());
                System.out.printf("%s host: idle after %d s: %s%n", host, idleSeconds, idle);
                long[] nanos = new long[requests];
                int count = -1;
                for (int i = 0; i < requests; i++) {
                    long s = System.nanoTime();
                    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/devices"))
                            .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
                    nanos[i] = System.nanoTime() - s;
                    if (r.statusCode() != 200) { // the idle figures still stand; the request figures are missing, and said so
                        System.out.printf("%s host: GET /api/v1/devices answered %d (%s): no figures after requests%n", host, r.statusCode(),
                                r.body().length() > 160 ? r.body().substring(0, 160) + "…" : r.body());
                        return new Result(host, devices, readyApi, readyHealth, idle, null, -1, 0);
                    }
                    if (i == 0) count = JsonMapper.builder().build().readTree(r.body()).size();
                }
                Arrays.sort(nanos);
                double p50 = requests == 0 ? 0 : nanos[requests / 2] / 1e6;
                Sample after = sample(p.pid());
                System.out.printf("%s host: after %d × GET /api/v1/devices (%d devices each, p50 %.1f ms): %s%n", host, requests, count, p50, after);
                return new Result(host, devices > 0 ? devices : count, readyApi, readyHealth, idle, after, p50, requests);
            } finally {
                p.destroy(); // SIGTERM: the daemon shuts down as under systemd
                if (!p.waitFor(30, TimeUnit.SECONDS)) p.destroyForcibly().waitFor();
            }
        } finally {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    private static final java.util.regex.Pattern DEMO_HOST = java.util.regex.Pattern.compile("event=demo-host root=(\\S+)");

    /** The demo's run directory, once the daemon's log names the demo tree (before its sockets exist). */
    static java.util.Optional<Path> demoRunDir(Path log) throws IOException {
        if (!Files.exists(log)) return java.util.Optional.empty();
        // Bytes as Latin-1: a read in the middle of a multi-byte character must not fail.
        java.util.regex.Matcher m = DEMO_HOST.matcher(new String(Files.readAllBytes(log), java.nio.charset.StandardCharsets.ISO_8859_1));
        return m.find() ? java.util.Optional.of(Path.of(m.group(1)).resolve("run/vfio-broker")) : java.util.Optional.empty();
    }

    /**
     * Waits (at most 15 s) until this bench's own JVM, Maven's, has gone quiet: its compiler threads still busy with
     * the build would take CPU from the daemon whose start is being timed, on 2 cores.
     */
    static void settle() throws InterruptedException {
        var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        long start = System.nanoTime(), before = os.getProcessCpuTime();
        while (System.nanoTime() - start < TimeUnit.SECONDS.toNanos(15)) {
            Thread.sleep(250);
            long now = os.getProcessCpuTime();
            if (now - before < TimeUnit.MILLISECONDS.toNanos(10)) break; // under 4% of a core
            before = now;
        }
        System.out.printf("bench JVM quiet after %.1f s%n", (System.nanoTime() - start) / 1e9);
    }

    private static boolean listening(int port) {
        try (java.net.Socket s = new java.net.Socket()) {
            s.connect(new java.net.InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean healthy(int port) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/actuator/health")).timeout(Duration.ofSeconds(2))
                    .build(), HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** RSS and PSS from smaps_rollup (PSS charges shared pages, such as the CDS archive, in part), threads from status. */
    static Sample sample(long pid) throws IOException {
        long rss = 0, pss = 0;
        int threads = 0;
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/smaps_rollup"))) {
            if (l.startsWith("Rss:")) rss = kb(l);
            if (l.startsWith("Pss:")) pss = kb(l);
        }
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (l.startsWith("Threads:")) threads = Integer.parseInt(l.substring(8).trim());
        }
        return new Sample(rss * 1024 / 1e6, pss * 1024 / 1e6, threads);
    }

    private static long kb(String line) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
    }

    private static String tail(Path log) throws IOException {
        List<String> l = Files.readAllLines(log);
        return String.join("\n", l.subList(Math.max(0, l.size() - 8), l.size()));
    }
}
