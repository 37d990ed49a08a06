package io.vfiobroker.lease;

import io.vfiobroker.audit.AuditLog;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A restarted daemon taking up the leases its predecessor stored. A client still running (same pid and start time) whose
 * fds were collected keeps its lease and is watched again; a lease whose ticket was never redeemed, or whose client went
 * while the daemon was down, must end (its devices reset and restored).
 */
final class LeaseAdoption {

    private LeaseAdoption() {
    }

    /** Adds every stored lease to {@code registry}; answers the ids that must end, with why. A line per lease goes to {@code report}. */
    static Map<String, String> adopt(List<LeaseStore.Stored> stored, Holders procs, LeaseRegistry registry, ProcessWatch watch, AuditLog audit,
                                     List<String> report) {
        Map<String, String> toEnd = new LinkedHashMap<>();
        for (LeaseStore.Stored s : stored) {
            boolean alive = procs.startTime(s.pid()).map(t -> t == s.startTime()).orElse(false);
            registry.adopt(s.adopt());
            if (alive && s.collected()) {
                watch.watch(s.id(), s.pid());
                audit.append("lease-adopted", "lease", s.id(), "uid", s.uid(), "pid", s.pid());
                report.add("lease " + s.id() + " of pid " + s.pid() + " taken back after a daemon restart");
            } else {
                String why = !s.collected() ? "its ticket was not redeemed before the daemon restarted" : "client process exited while the daemon was down";
                toEnd.put(s.id(), why);
                report.add("lease " + s.id() + " of pid " + s.pid() + " ended: " + why);
            }
        }
        return toEnd;
    }
}
