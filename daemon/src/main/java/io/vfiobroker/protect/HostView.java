package io.vfiobroker.protect;

import io.vfiobroker.host.Processes;
import io.vfiobroker.host.SysfsHost;

import java.util.Optional;

/**
 * Where the host's mount table and network state are read, and whether what is read there is the host's.
 *
 * <p>{@code /proc/mounts} and {@code /proc/net/*} are the reader's own (links to {@code self/}): in a pod they
 * show the pod's mounts and network namespace, and a broker reading them would happily unbind the host's boot
 * disk. With the host PID namespace (hostPID), {@code /proc/1/mounts} and {@code /proc/1/net/*} are the host
 * init's. Not {@code /proc/1/root/proc/mounts}: that procfs resolves {@code self} to the reader again.
 *
 * <p>The check, from what the kernel exposes without ptrace rights over pid 1 (a systemd unit has few caps):
 * the reader's PID namespace must be the initial one ({@code PROC_PID_INIT_INO}, fixed since Linux 3.8), so
 * pid 1 is the host's init; reading through {@code /proc/1} is then the host's view. Reading through our own
 * {@code /proc} is the host's view when our "/" mount is the host init's (same device and root in mountinfo; a
 * systemd sandbox with ProtectSystem has its own mount namespace but the same root, a container has not).
 */
public final class HostView {

    /** readlink of a process in the initial PID namespace's ns/pid. */
    static final String INIT_PID_NS = Processes.initialNamespace("pid");

    private final SysfsHost host;
    private final String proc;

    /**
     * @param hostProc the proc directory to read mounts and net/ from, as a path below the host root: "/proc"
     *                 (our own view) or "/proc/1" (the host init's, with hostPID)
     */
    public HostView(SysfsHost host, String hostProc) {
        this.host = host;
        this.proc = relative(hostProc);
    }

    public static HostView own(SysfsHost host) {
        return new HostView(host, "proc");
    }

    /** "proc" or "proc/1": validated components, no leading slash. */
    static String relative(String hostProc) {
        String p = hostProc == null || hostProc.isBlank() ? "proc" : hostProc.strip();
        while (p.startsWith("/")) p = p.substring(1);
        while (p.endsWith("/")) p = p.substring(0, p.length() - 1);
        if (p.isEmpty()) throw new IllegalArgumentException("host-proc '" + hostProc + "' names no directory");
        for (String part : p.split("/")) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) {
                throw new IllegalArgumentException("host-proc '" + hostProc + "' has an invalid component '" + part + "'");
            }
        }
        return p;
    }

    /** The proc directory below the host root ("proc" or "proc/1"). */
    public String proc() {
        return proc;
    }

    /** A file of the viewed process's proc directory: "mounts", "net/route". */
    public String path(String name) {
        return proc + "/" + name;
    }

    /**
     * Why what is read is not (or not provably) the host's view, or empty when it is. Protection that reads a
     * pod's mounts and routes protects nothing, so the caller refuses to bind on any reason given here.
     */
    public Optional<String> blindness() {
        // A kernel without PID namespaces answers the initial one.
        String own = host.processes().ownNamespace("pid").orElse(null);
        if (own == null) {
            return Optional.of("cannot read /proc/self/ns/pid, so cannot tell whether /" + proc + " shows the host's mounts and routes");
        }
        if (!own.equals(INIT_PID_NS)) {
            return Optional.of("the daemon runs in a PID namespace of its own (" + own + ", the host's is " + INIT_PID_NS
                    + "), so /proc/mounts and /proc/net are a container's and /proc/1 is not the host's init; run the pod "
                    + "with hostPID: true and vfio-broker.host-proc=/proc/1");
        }
        if (!proc.equals("proc")) {
            if (!host.exists(path("mounts"))) return Optional.of("/" + path("mounts") + " does not exist");
            return Optional.empty();
        }
        Optional<String> ours = rootMount("proc/self/mountinfo");
        Optional<String> init = rootMount("proc/1/mountinfo");
        if (ours.isEmpty() || init.isEmpty()) {
            return Optional.of("cannot read the root mount from /proc/self/mountinfo and /proc/1/mountinfo, so cannot tell "
                    + "whether /proc/mounts is the host's");
        }
        if (!ours.equals(init)) {
            return Optional.of("the daemon's root file system (" + ours.get() + ") is not the host init's (" + init.get()
                    + "): it runs in a container, whose /proc/mounts and /proc/net are its own; set "
                    + "vfio-broker.host-proc=/proc/1 (the chart does, with hostPID: true)");
        }
        return Optional.empty();
    }

    /** "major:minor root" of the mount at "/" (the last one: later mounts stack over earlier ones). */
    private Optional<String> rootMount(String mountinfo) {
        String found = null;
        for (String line : host.read(mountinfo).orElse("").lines().toList()) {
            String[] f = line.split(" ");
            if (f.length > 4 && f[4].equals("/")) found = f[2] + " " + f[3];
        }
        return Optional.ofNullable(found);
    }
}
