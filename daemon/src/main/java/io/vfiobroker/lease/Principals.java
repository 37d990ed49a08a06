package io.vfiobroker.lease;

import io.vfiobroker.accounting.Memlock;
import io.vfiobroker.authz.Namespaces;
import io.vfiobroker.policy.Principal;

import java.util.ArrayList;
import java.util.List;

/** Who policy judges for an Acquire. */
final class Principals {

    private Principals() {
    }

    /**
     * Under an allocation token: the allocation's Kubernetes resource, never the pod's uid (a root pod is not host root).
     * A caller in another pid or user namespace than the daemon's, without a token, matches only rules that name
     * everyone: its uid is not the host's.
     */
    static Principal of(Caller caller, AllocationGate.Allocation alloc) {
        if (alloc != null) return new Principal(Principal.UNMAPPED, Principal.UNMAPPED, List.of(), null, alloc.resource());
        if (!Namespaces.PROC.sameAsDaemon(caller.pid())) return new Principal(Principal.UNMAPPED, Principal.UNMAPPED, List.of(), null, null);
        if (caller.groups() != null) return new Principal(caller.uid(), caller.gid(), caller.groups(), null, null);
        List<Integer> groups = new ArrayList<>();
        Memlock.processStatus(caller.pid()).ifPresent(s -> s.lines().filter(l -> l.startsWith("Groups:")).findFirst()
                .ifPresent(l -> {
                    for (String g : l.substring(7).trim().split("\\s+")) {
                        if (!g.isEmpty()) groups.add(Integer.parseInt(g));
                    }
                }));
        return new Principal(caller.uid(), caller.gid(), groups, null, null);
    }
}
