package io.vfiobroker.policy;

import java.util.List;

/**
 * Who asks: the peer credentials of the client's socket (never a claim in a message), optionally its
 * supplementary groups, and names when the caller already knows them (null otherwise; the engine resolves
 * names from the host's /etc/passwd and /etc/group when a rule uses them).
 */
public record Principal(int uid, int gid, List<Integer> groups, String userName, String kubernetesResource) {

    /**
     * The uid and gid of a principal that has none on this host: an allocation, or a caller in another pid or user
     * namespace. No uid or gid rule matches it.
     */
    public static final int UNMAPPED = -1;

    public Principal {
        groups = groups == null ? List.of() : List.copyOf(groups);
    }

    public static Principal of(int uid, int gid) {
        return new Principal(uid, gid, List.of(), null, null);
    }

    /** A Kubernetes resource as the kubelet and DRA plugins name it: no uid, so only resource (or any) rules match. */
    public static Principal resource(String name) {
        return new Principal(UNMAPPED, UNMAPPED, List.of(), null, name);
    }

    /** "uid 1000 (alice), gid 1000" — how decisions name the principal. */
    public String describe() {
        if (uid == UNMAPPED) {
            return kubernetesResource != null ? "resource " + kubernetesResource : "a caller outside the daemon's pid and user namespaces";
        }
        StringBuilder s = new StringBuilder("uid ").append(uid);
        if (userName != null) s.append(" (").append(userName).append(')');
        s.append(", gid ").append(gid);
        if (kubernetesResource != null) s.append(", resource ").append(kubernetesResource);
        return s.toString();
    }
}
