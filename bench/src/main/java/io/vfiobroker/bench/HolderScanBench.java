package io.vfiobroker.bench;

import io.vfiobroker.nativeshim.FdLinks;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

/**
 * What a lease end's holder scan costs as the node's open fds grow: the daemon's own native pass over every
 * /proc/PID/fd link ({@link FdLinks#find}, as lease/Holders runs it) on this machine, first as it is, then with
 * extra processes each holding fds open (half /dev/null, half a file six directories deep, as jars and logs are).
 * Prints the scan's CPU time (this thread's, from the kernel) and wall time per pass, and the cost per open fd on
 * the node. Args: [processes per step, comma-separated (0,8,32)] [fds per process (256)] [passes per step (40)].
 */
public final class HolderScanBench {

    record Step(int extraProcesses, long processes, long fds, double cpuMsMedian, double wallMsMedian) {
    }

    public static void main(String[] args) throws Exception {
        int[] steps = Arrays.stream((args.length > 0 ? args[0] : "0,8,32").split(",")).mapToInt(Integer::parseInt).toArray();
        int perProcess = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int passes = args.length > 2 ? Integer.parseInt(args[2]) : 40;
        BenchResults results = BenchResults.open("holderscan").param("steps", steps).param("fdsPerProcess", perProcess).param("passes", passes);
        RecordedRun.exec(results, "vb-holderscan-", dir -> run(dir, steps, perProcess, passes, results));
    }

    static int run(Path dir, int[] steps, int perProcess, int passes, BenchResults results) throws Exception {
        System.out.println("real: the daemon's native /proc/*/fd pass (FdLinks, native-shim) over this machine's processes; stood in: "
                + "the extra processes are python3 holding /dev/null and a regular file open, not clients holding device fds");
        Path deep = Files.createDirectories(dir.resolve("a/b/c/d/e/f")).resolve("held.jar");
        Files.writeString(deep, "x");
        List<Process> holders = new ArrayList<>();
        List<Step> done = new ArrayList<>();
        try {
            for (int want : steps) {
                while (holders.size() < want) holders.add(holder(deep, perProcess));
                done.add(measure(want, passes));
                Step s = done.get(done.size() - 1);
                System.out.printf("%3d extra processes: %4d processes, %6d open fds on the machine: scan %.2f ms CPU, %.2f ms wall (median of %d)%n",
                        want, s.processes(), s.fds(), s.cpuMsMedian(), s.wallMsMedian(), passes);
                String k = "extra" + want + ".";
                results.number(k + "processes", s.processes()).number(k + "fds", s.fds()).number(k + "cpuMs", s.cpuMsMedian())
                        .number(k + "wallMs", s.wallMsMedian());
            }
        } finally {
            for (Process p : holders) p.destroyForcibly();
        }
        Step first = done.get(0);
        Step last = done.get(done.size() - 1);
        if (last.fds() > first.fds()) {
            double usPerFd = (last.cpuMsMedian() - first.cpuMsMedian()) * 1000 / (last.fds() - first.fds());
            results.number("cpuUsPerFd", usPerFd);
            System.out.printf("each open fd on the node adds %.2f µs of CPU to every lease end's scan (%d → %d fds)%n", usPerFd, first.fds(), last.fds());
        }
        return 0;
    }

    private static Step measure(int extra, int passes) throws IOException {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        int self = (int) ProcessHandle.current().pid();
        List<String> targets = List.of("/dev/vfio/4095"); // no process holds it: every link is read, none matches
        double[] cpu = new double[passes];
        double[] wall = new double[passes];
        for (int i = 0; i < passes; i++) {
            long c = threads.getCurrentThreadCpuTime();
            long w = System.nanoTime();
            if (!FdLinks.find("/proc", targets, self).isEmpty()) throw new IllegalStateException("a process holds " + targets);
            wall[i] = (System.nanoTime() - w) / 1e6;
            cpu[i] = (threads.getCurrentThreadCpuTime() - c) / 1e6;
        }
        long[] census = census();
        return new Step(extra, census[0], census[1], median(cpu), median(wall));
    }

    /** Processes and open fds on the machine now, as the scan sees them. */
    private static long[] census() throws IOException {
        long procs = 0;
        long fds = 0;
        try (Stream<Path> s = Files.list(Path.of("/proc"))) {
            for (Path p : s.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).toList()) {
                try {
                    fds += ProcStats.fds(Long.parseLong(p.getFileName().toString()));
                    procs++;
                } catch (IOException | java.io.UncheckedIOException gone) {
                    // exited meanwhile, or not ours to read
                }
            }
        }
        return new long[] {procs, fds};
    }

    private static Process holder(Path file, int fds) throws IOException {
        String script = "import os,sys\n"
                + "held=[os.open('/dev/null' if i % 2 else sys.argv[1], os.O_RDONLY) for i in range(int(sys.argv[2]))]\n"
                + "print('up', flush=True)\nsys.stdin.read()\n";
        Process p = new ProcessBuilder("python3", "-c", script, file.toString(), Integer.toString(fds)).redirectErrorStream(true).start();
        String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
        if (!"up".equals(line)) throw new IOException("fd holder did not start: " + line);
        return p;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
