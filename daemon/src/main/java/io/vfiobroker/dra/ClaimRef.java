package io.vfiobroker.dra;

/** A ResourceClaim as the kubelet names it in NodePrepareResources: namespace, UID, name. */
public record ClaimRef(String namespace, String uid, String name) {

    public String describe() {
        return namespace + "/" + name + " (uid " + uid + ")";
    }
}
