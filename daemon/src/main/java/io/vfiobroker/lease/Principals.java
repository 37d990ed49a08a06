package io.vfiobroker.lease;

import io.vfiobroker.host.LinuxProcesses;
import io.vfiobroker.host.ProcessStatus;
import io.vfiobroker.policy.Principal;

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
        if (!LinuxProcesses.REAL.inOwnNamespaces(caller.pid())) return new Principal(Principal.UNMAPPED, Principal.UNMAPPED, List.of(), null, null);
        if (caller.groups() != null) return new Principal(caller.uid(), caller.gid(), caller.groups(), null, null);
        List<Integer> groups = LinuxProcesses.REAL.status(caller.pid()).map(ProcessStatus::groups).orElse(List.of());
        return new Principal(caller.uid(), caller.gid(), groups, null, null);
    }
}
