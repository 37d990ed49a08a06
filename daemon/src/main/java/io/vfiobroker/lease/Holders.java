package io.vfiobroker.lease;

import io.vfiobroker.concurrent.Daemons;
import io.vfiobroker.host.LinuxProcesses;
import io.vfiobroker.host.ProcessStatus;
import io.vfiobroker.host.Processes;
import io.vfiobroker.nativeshim.Kcmp;
import io.vfiobroker.nativeshim.LibcAbi;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.Pidfd;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.HashSet;
import java.util.LinkedHashMap;

/**
 * Finds the processes that hold a lease's files, and kills them. vfio-pci's remove does not return while any fd of
 * the device is open, so a lease can only be taken back once they are gone. A holder is a process with an fd on
 * one of the lease's exclusive nodes (the group node, the vfio cdev) or with the very open file the daemon handed
 * over (kcmp KCMP_FILE against the daemon's own copy): that finds a device fd, which /proc shows only as an
 * anonymous inode, and a forked child's inherited copies too.
 */
public final class Holders {

    private static final Logger log = LoggerFactory.getLogger(Holders.class);

    /** A process found holding a lease's file. {@code startTime} tells it from a later process with the same pid. */
    public record Holder(int pid, int uid, String comm, long startTime, String file) {
        @Override
        public String toString() {
            return "pid " + pid + " (" + comm + ", uid " + uid + ") holding " + file;
        }
    }

    private final Processes proc;
    private final int self = (int) ProcessHandle.current().pid();
    private volatile boolean kcmpWarned;

    public Holders(Processes proc) {
        this.proc = proc;
    }

    public Holders() {
        this(LinuxProcesses.REAL);
    }

    /** One lease end's question: who holds these paths, or these open files of the daemon's. */
    private record Request(Set<String> exclusive, Map<String, List<Integer>> shared, CompletableFuture<List<Holder>> answer) {
    }

    private final LinkedBlockingQueue<Request> requests = new LinkedBlockingQueue<>();
    private volatile Thread scanner;

    /**
     * The processes other than the daemon holding {@code exclusivePaths} or an fd that is one open file with one of
     * {@code daemonFds} (the daemon's own fd numbers). Lease ends that ask at the same time share one pass over /proc:
     * a pass reads every fd link on the host, which is the cost of an end.
     */
    public List<Holder> find(Collection<String> exclusivePaths, Collection<Integer> daemonFds) {
        Map<String, List<Integer>> shared = new HashMap<>();
        for (int fd : daemonFds) {
            proc.ownFdLink(fd).ifPresent(l -> shared.computeIfAbsent(l, k -> new ArrayList<>()).add(fd));
        }
        Request r = new Request(Set.copyOf(exclusivePaths), shared, new CompletableFuture<>());
        startScanner();
        requests.add(r);
        try {
            return r.answer().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while looking for the holders of a lease", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof RuntimeException x ? x : new IllegalStateException(e.getCause());
        }
    }

    private synchronized void startScanner() {
        if (scanner != null) return;
        scanner = Daemons.start("holder-scan", this::serve);
    }

    private void serve() {
        while (true) {
            List<Request> batch = new ArrayList<>();
            try {
                batch.add(requests.take());
            } catch (InterruptedException e) {
                return;
            }
            requests.drainTo(batch);
            try {
                List<List<Holder>> found = scan(batch);
                for (int i = 0; i < batch.size(); i++) batch.get(i).answer().complete(found.get(i));
            } catch (RuntimeException e) {
                for (Request r : batch) r.answer().completeExceptionally(e);
            }
        }
    }

    private List<List<Holder>> scan(List<Request> batch) {
        Set<String> texts = new HashSet<>();
        for (Request r : batch) {
            texts.addAll(r.exclusive());
            texts.addAll(r.shared().keySet());
        }
        // Per request, per pid: the first of its files that pid holds (kcmp decides for a shared link text).
        List<Map<Integer, String>> held = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) held.add(new LinkedHashMap<>());
        for (Processes.FdLink f : proc.fdsLinkingTo(texts, self)) {
            for (int i = 0; i < batch.size(); i++) {
                Request r = batch.get(i);
                if (held.get(i).containsKey(f.pid())) continue;
                if (r.exclusive().contains(f.target())) {
                    held.get(i).put(f.pid(), f.target());
                    continue;
                }
                for (int fd : r.shared().getOrDefault(f.target(), List.of())) {
                    if (sameFile(fd, f.pid(), f.fd())) {
                        held.get(i).put(f.pid(), f.target());
                        break;
                    }
                }
            }
        }
        Map<Integer, Holder> described = new HashMap<>();
        List<List<Holder>> found = new ArrayList<>();
        for (Map<Integer, String> h : held) {
            List<Holder> list = new ArrayList<>();
            h.forEach((pid, file) -> {
                Holder d = described.computeIfAbsent(pid, p -> describe(p, file));
                list.add(new Holder(d.pid(), d.uid(), d.comm(), d.startTime(), file));
            });
            found.add(list);
        }
        return found;
    }

    private boolean sameFile(int ours, int pid, int theirs) {
        try {
            return Kcmp.sameFile(self, ours, pid, theirs);
        } catch (NativeException e) {
            if ("ENOSYS".equals(e.errnoName()) && !kcmpWarned) {
                kcmpWarned = true;
                log.warn("event=kcmp-unavailable detail=\"kernel without kcmp: a device fd held apart from its group node is not found\"");
            }
            return false;
        }
    }

    private Holder describe(int pid, String file) {
        String comm = proc.comm(pid).orElse("?");
        int uid = proc.status(pid).map(ProcessStatus::uid).orElse(-1);
        return new Holder(pid, uid, comm, startTime(pid).orElse(-1L), file);
    }

    /** How /proc names a mapped device file opened through its group: the same for every device. */
    public static final String ANON_DEVICE = "anon_inode:[vfio-device]";

    /**
     * Processes other than the daemon that map one of {@code paths} (a lease's cdev, say) or a VFIO device opened
     * through a group ({@link #ANON_DEVICE}: which device, /proc does not say). A mapping keeps its file, and so the
     * device, open after every fd of it is closed, which the fd scan cannot see. Reads every process's maps: for a
     * lease end the kernel holds up, never on the common path.
     */
    public List<Holder> mappers(Collection<String> paths) {
        List<Holder> out = new ArrayList<>();
        for (int pid : proc.pids()) {
            if (pid == self) continue;
            Set<String> mapped = proc.mappedFiles(pid);
            String file = paths.stream().filter(mapped::contains).findFirst().orElse(mapped.contains(ANON_DEVICE) ? ANON_DEVICE : null);
            if (file != null) out.add(describe(pid, "a mapping of " + file));
        }
        return out;
    }

    /**
     * SIGKILL through a pidfd, after checking the pid still names the process that was found: a pid reused since the
     * scan is left alone. Answers whether the signal went to the holder.
     */
    public boolean kill(Holder h) {
        try (Pidfd pidfd = Pidfd.open(h.pid())) {
            // Checked after the pidfd is open: from here on the pidfd cannot reach another process.
            if (startTime(h.pid()).orElse(-2L) != h.startTime()) return false;
            pidfd.sendSignal(LibcAbi.SIGKILL);
            return true;
        } catch (NativeException e) {
            return false; // ESRCH: gone already
        }
    }

    /** Waits up to {@code timeoutMs} for a killed holder to be gone. */
    public boolean awaitGone(Holder h, long timeoutMs) {
        try (Pidfd pidfd = Pidfd.open(h.pid())) {
            if (startTime(h.pid()).orElse(-2L) != h.startTime()) return true;
            return pidfd.awaitExit(java.time.Duration.ofMillis(timeoutMs));
        } catch (NativeException e) {
            return true;
        }
    }

    /** What the daemon's own {@code fd} is open on, as its /proc link shows it. */
    public Optional<String> daemonFile(int fd) {
        return proc.ownFdLink(fd);
    }

    /** When the process started, in clock ticks since boot: tells it from a later process with its pid. */
    public Optional<Long> startTime(int pid) {
        return proc.startTime(pid);
    }
}
