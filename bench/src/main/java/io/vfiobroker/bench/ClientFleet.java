package io.vfiobroker.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * N {@link CycleClient} processes, started together and driven in rounds: every client runs its cycles at once, and a
 * round's rate is all cycles over the span from the first client's start to the last one's end. Client JVMs run C1
 * only with a small serial heap, so sixteen of them fit on two cores beside the server.
 */
final class ClientFleet implements AutoCloseable {

    static final List<String> CLIENT_JVM = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx64m", "-Xshare:auto",
            "-Dlogback.configurationFile=lease-bench-logback.xml");

    /** One round: every cycle's latency (sorted), the span, and the server's CPU time over it. */
    record Round(int clients, long[] latencyNs, long spanNs, long serverCpuNs) {
        double p(double q) {
            return latencyNs[Math.min(latencyNs.length - 1, (int) Math.ceil(q * latencyNs.length) - 1)] / 1e6;
        }

        double perSecond() {
            return latencyNs.length / (spanNs / 1e9);
        }

        double serverCpuMsPerCycle() {
            return serverCpuNs / 1e6 / latencyNs.length;
        }

        String line() {
            return "%2d client%s %6d cycles: %6.0f cycles/s, p50 %.3f ms, p99 %.3f ms, server CPU %.3f ms/cycle".formatted(clients,
                    clients == 1 ? " " : "s", latencyNs.length, perSecond(), p(0.50), p(0.99), serverCpuMsPerCycle());
        }
    }

    private final List<Process> processes = new ArrayList<>();
    private final List<BufferedReader> outs = new ArrayList<>();
    private final List<PrintStream> ins = new ArrayList<>();
    private final List<String> memlock = new ArrayList<>();
    private boolean closed;

    /** Starts one client process per argument list (CycleClient's arguments) and waits until each is READY. */
    ClientFleet(List<List<String>> clientArgs) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = LeaseBench.childClassPath();
        try {
            for (List<String> a : clientArgs) {
                List<String> cmd = new ArrayList<>(List.of(java));
                cmd.addAll(CLIENT_JVM);
                cmd.addAll(List.of("-cp", cp, CycleClient.class.getName()));
                cmd.addAll(a);
                Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
                processes.add(p);
                outs.add(new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)));
                ins.add(new PrintStream(p.getOutputStream(), true, StandardCharsets.UTF_8));
            }
            for (int i = 0; i < processes.size(); i++) expect(i, "READY");
        } catch (Exception | Error e) {
            close();
            throw e;
        }
    }

    int size() {
        return processes.size();
    }

    /** Every client runs {@code cycles}; {@code serverCpuNs} reads the server's CPU time before and after. */
    Round round(int cycles, LongSupplier serverCpuNs) throws IOException {
        long cpu0 = serverCpuNs.getAsLong();
        for (PrintStream in : ins) in.println("GO " + cycles);
        long first = Long.MAX_VALUE;
        long last = Long.MIN_VALUE;
        List<long[]> lat = new ArrayList<>();
        for (int i = 0; i < processes.size(); i++) {
            String[] round = expect(i, "ROUND").split(" ");
            first = Math.min(first, Long.parseLong(round[1]));
            last = Math.max(last, Long.parseLong(round[2]));
            lat.add(Arrays.stream(expect(i, "LAT").substring(4).split(",")).mapToLong(Long::parseLong).toArray());
        }
        long cpu = serverCpuNs.getAsLong() - cpu0;
        long[] all = lat.stream().flatMapToLong(Arrays::stream).sorted().toArray();
        return new Round(processes.size(), all, last - first, cpu);
    }

    /** RLIMIT_MEMLOCK ("soft hard") each client had at exit; filled by {@link #close()}. */
    List<String> memlockAtExit() {
        return memlock;
    }

    private String expect(int client, String prefix) throws IOException {
        for (String line; (line = outs.get(client).readLine()) != null; ) {
            if (line.startsWith(prefix)) return line;
            if (line.startsWith("ERROR")) throw new IllegalStateException("client " + client + ": " + line);
        }
        throw new IllegalStateException("client " + client + " exited before " + prefix);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (int i = 0; i < processes.size(); i++) {
            ins.get(i).println("EXIT");
            try {
                memlock.add(expect(i, "MEMLOCK").substring(8));
            } catch (IOException | RuntimeException e) {
                memlock.add("? (" + e.getMessage() + ")");
            }
        }
        for (Process p : processes) {
            try {
                if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) p.destroyForcibly().waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.destroyForcibly();
            }
        }
    }
}
