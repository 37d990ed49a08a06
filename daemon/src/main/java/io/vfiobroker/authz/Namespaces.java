package io.vfiobroker.authz;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/** A process's pid and user namespaces (the targets of /proc/PID/ns/{pid,user}) against the daemon's own. */
public final class Namespaces {

    public static final Namespaces PROC = new Namespaces(Path.of("/proc"));

    private final Path proc;

    public Namespaces(Path proc) {
        this.proc = proc;
    }

    /**
     * True only when both links read and name our own namespaces; any doubt (pid gone, unreadable) is false.
     * A kernel built without a kind of namespace (no /proc/self/ns/KIND) has one of it, shared by every process.
     */
    public boolean sameAsDaemon(int pid) {
        if (pid <= 0 || !Files.isDirectory(proc.resolve(Integer.toString(pid)))) return false;
        return same(pid, "pid") && same(pid, "user");
    }

    private boolean same(int pid, String kind) {
        String ours = link("self", kind);
        if (ours == null) return !hasKind(kind) && !Files.exists(proc.resolve(Integer.toString(pid)).resolve("ns").resolve(kind), LinkOption.NOFOLLOW_LINKS);
        return ours.equals(link(Integer.toString(pid), kind));
    }

    public boolean samePidNamespace(int a, int b) {
        if (a <= 0 || b <= 0) return false;
        if (!Files.isDirectory(proc.resolve(Integer.toString(a))) || !Files.isDirectory(proc.resolve(Integer.toString(b)))) return false;
        String x = link(Integer.toString(a), "pid");
        if (x == null) return !hasKind("pid");
        return x.equals(link(Integer.toString(b), "pid"));
    }

    private boolean hasKind(String kind) {
        return Files.exists(proc.resolve("self").resolve("ns").resolve(kind), LinkOption.NOFOLLOW_LINKS);
    }

    private String link(String pid, String ns) {
        try {
            return Files.readSymbolicLink(proc.resolve(pid).resolve("ns").resolve(ns)).toString();
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
    }
}
