package io.vfiobroker.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** What /proc (and jcmd) say about another process: CPU time, open fds, threads, RSS, heap after a full GC. */
final class ProcStats {

    /** USER_HZ: the unit of utime and stime in /proc/PID/stat; 100 on every Linux architecture this runs on. */
    private static final long CLOCK_TICKS = clockTicks();

    private ProcStats() {
    }

    /** utime + stime in ns. */
    static long cpuNs(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        // fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
        return ticks * 1_000_000_000L / CLOCK_TICKS;
    }

    static long fds(long pid) throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return s.count();
        }
    }

    static int threads(long pid) throws IOException {
        return (int) status(pid, "Threads:");
    }

    static double rssMb(long pid) throws IOException {
        return status(pid, "VmRSS:") * 1024 / 1e6;
    }

    /** Heap in use right after a full GC, from jcmd GC.run then GC.heap_info ("used NNNK" summed over the heap's lines). */
    static double heapAfterGcMb(long pid) throws IOException, InterruptedException {
        jcmd(pid, "GC.run");
        long usedKb = 0;
        for (String l : jcmd(pid, "GC.heap_info").split("\n")) {
            String t = l.trim();
            // heap and generation lines ("garbage-first heap total 1234K, used 567K"); spaces and Metaspace have no "total"
            if (!t.contains(" total ") || !t.contains("used ")) continue;
            String after = t.substring(t.indexOf("used ") + 5);
            usedKb += Long.parseLong(after.substring(0, after.indexOf('K')).trim());
        }
        return usedKb * 1024 / 1e6;
    }

    private static String jcmd(long pid, String command) throws IOException, InterruptedException {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException("jcmd " + pid + " " + command + " failed: " + out);
        return out;
    }

    private static long status(long pid, String key) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (l.startsWith(key)) return Long.parseLong(l.substring(key.length()).trim().split("\\s+")[0]);
        }
        throw new IOException(key + " not in /proc/" + pid + "/status");
    }

    private static long clockTicks() {
        try {
            Process p = new ProcessBuilder("getconf", "CLK_TCK").start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
            return p.waitFor() == 0 ? Long.parseLong(out) : 100;
        } catch (IOException | InterruptedException | NumberFormatException e) {
            return 100;
        }
    }
}
