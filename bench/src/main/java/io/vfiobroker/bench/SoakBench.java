package io.vfiobroker.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * 100 000 acquire → redeem → release cycles through the production daemon ({@link BrokerProcess}) from one client
 * process, rotating over the {@link LeaseHost}'s 64 groups; every 10 000 cycles the daemon's open fds, threads, heap
 * after a full GC (jcmd) and RSS. Exits nonzero if, against the first sample after warm-up, RSS grew more than 10% or
 * fds more than {@value #FD_SLACK}. Records the series in bench/results/soak.json.
 * Args: [cycles (100000)] [sample every (10000)].
 */
public final class SoakBench {

    static final double RSS_GROWTH = 0.10;
    static final int FD_SLACK = 8;

    record Sample(long cycles, long fds, int threads, double heapAfterGcMb, double rssMb, double perSecond, double p99Ms) {
        String line() {
            return "%7d cycles: %4d fds, %3d threads, heap after GC %6.1f MB, RSS %6.1f MB; last round %5.0f cycles/s, p99 %.3f ms"
                    .formatted(cycles, fds, threads, heapAfterGcMb, rssMb, perSecond, p99Ms);
        }
    }

    public static void main(String[] args) throws Exception {
        int cycles = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        int every = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;
        Path repo = Path.of(System.getProperty("bench.repo", ".")).toAbsolutePath();
        BenchResults results = BenchResults.open("soak").param("cycles", cycles).param("every", every);
        RecordedRun.exec(results, "vb-soak-", dir -> run(repo, dir, cycles, every, results));
    }

    static int run(Path repo, Path dir, int cycles, int every, BenchResults results) throws Exception {
        LeaseHost host = LeaseHost.generate(dir, ClientLimits.memlockBelowHardLimit());
        System.out.printf("soak: %d cycles over %d VFs in as many groups through bin/vfio-broker daemon (state on disk in %s), sampled every %d%n",
                cycles, host.vfs().size(), dir.resolve("state"), every);
        List<Sample> series = new ArrayList<>();
        try (BrokerProcess d = new BrokerProcess(repo, host.root(), host.policy(), dir.resolve("run"), dir.resolve("state"), dir.resolve("daemon.log"));
             SseWatcher sse = new SseWatcher(d);
             ClientFleet client = new ClientFleet(List.of(List.of("broker", d.runDir.toString(), String.join(",", host.vfs()))))) {
            series.add(sample(d.pid(), 0, null));
            System.out.println(series.get(0).line());
            for (long done = 0; done < cycles; ) {
                int n = (int) Math.min(every, cycles - done);
                ClientFleet.Round r = client.round(n, () -> 0);
                done += n;
                series.add(sample(d.pid(), done, r));
                System.out.println(series.get(series.size() - 1).line());
            }
            System.out.printf("daemon: %d lease events reached the SSE watcher; %s%n", sse.leaseEvents(), DaemonMetrics.acquires(d));
        }
        for (Sample s : series) {
            String k = "at" + s.cycles() + ".";
            results.number(k + "fds", s.fds()).number(k + "threads", s.threads()).number(k + "heapAfterGcMb", s.heapAfterGcMb()).number(k + "rssMb", s.rssMb());
        }
        Sample base = series.get(Math.min(1, series.size() - 1)); // after the first round: JIT, caches and pools warm
        Sample last = series.get(series.size() - 1);
        boolean rssOk = last.rssMb() <= base.rssMb() * (1 + RSS_GROWTH);
        boolean fdsOk = last.fds() <= base.fds() + FD_SLACK;
        System.out.printf("  %-4s RSS %.1f MB at %d cycles → %.1f MB at %d (limit +%.0f%%)%n", rssOk ? "PASS" : "OVER", base.rssMb(), base.cycles(),
                last.rssMb(), last.cycles(), RSS_GROWTH * 100);
        System.out.printf("  %-4s fds %d at %d cycles → %d at %d (limit +%d)%n", fdsOk ? "PASS" : "OVER", base.fds(), base.cycles(), last.fds(),
                last.cycles(), FD_SLACK);
        System.out.printf("  info threads %d → %d, heap after GC %.1f → %.1f MB%n", base.threads(), last.threads(), base.heapAfterGcMb(), last.heapAfterGcMb());
        results.param("verdict.rss", rssOk ? "PASS" : "OVER").param("verdict.fds", fdsOk ? "PASS" : "OVER");
        return rssOk && fdsOk ? 0 : 2;
    }

    private static Sample sample(long pid, long cycles, ClientFleet.Round r) {
        try {
            double heap = ProcStats.heapAfterGcMb(pid); // first: the GC it runs is what RSS is then measured after
            return new Sample(cycles, ProcStats.fds(pid), ProcStats.threads(pid), heap, ProcStats.rssMb(pid),
                    r == null ? 0 : r.perSecond(), r == null ? 0 : r.p(0.99));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
