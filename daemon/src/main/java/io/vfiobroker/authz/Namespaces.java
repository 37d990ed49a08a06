package io.vfiobroker.authz;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A process's pid and user namespaces (the targets of /proc/PID/ns/{pid,user}) against the daemon's own. */
public final class Namespaces {

    public static final Namespaces PROC = new Namespaces(Path.of("/proc"));

    private final Path proc;

    public Namespaces(Path proc) {
        this.proc = proc;
    }

    /** True only when both links read and name our own namespaces; any doubt (pid gone, unreadable) is false. */
    public boolean sameAsDaemon(int pid) {
        if (pid <= 0) return false;
        String pidNs = link(Integer.toString(pid), "pid");
        String userNs = link(Integer.toString(pid), "user");
        return pidNs != null && userNs != null && pidNs.equals(link("self", "pid")) && userNs.equals(link("self", "user"));
    }

    public boolean samePidNamespace(int a, int b) {
        if (a <= 0 || b <= 0) return false;
        String x = link(Integer.toString(a), "pid");
        return x != null && x.equals(link(Integer.toString(b), "pid"));
    }

    private String link(String pid, String ns) {
        try {
            return Files.readSymbolicLink(proc.resolve(pid).resolve("ns").resolve(ns)).toString();
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
    }
}
