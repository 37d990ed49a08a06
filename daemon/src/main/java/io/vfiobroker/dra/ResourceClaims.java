package io.vfiobroker.dra;

import tools.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/** Reads a {@code resource.k8s.io/v1} ResourceClaim object (JSON) into what this driver was allocated. */
public final class ResourceClaims {

    private ResourceClaims() {
    }

    /**
     * @param claim          the ResourceClaim as the API server returns it
     * @param serviceAccount the consuming pod's service account if the caller looked it up, else null
     */
    public static AllocatedClaim parse(ClaimRef ref, JsonNode claim, String driver, String serviceAccount) {
        String uid = claim.path("metadata").path("uid").asString("");
        if (!uid.isEmpty() && !uid.equals(ref.uid())) {
            throw new DraException("claim " + ref.namespace() + "/" + ref.name() + " has uid " + uid + " now, not " + ref.uid()
                    + " (it was deleted and created again)");
        }
        JsonNode devices = claim.path("status").path("allocation").path("devices");
        if (devices.isMissingNode() || devices.isNull()) throw new DraException("claim " + ref.describe() + " is not allocated");
        List<AllocatedClaim.Result> results = new ArrayList<>();
        for (JsonNode r : devices.path("results")) {
            if (!driver.equals(r.path("driver").asString(""))) continue;
            results.add(new AllocatedClaim.Result(r.path("request").asString(""), driver, r.path("pool").asString(""),
                    r.path("device").asString("")));
        }
        List<AllocatedClaim.OpaqueConfig> configs = new ArrayList<>();
        for (JsonNode c : devices.path("config")) {
            JsonNode opaque = c.path("opaque");
            if (!driver.equals(opaque.path("driver").asString(""))) continue;
            List<String> requests = new ArrayList<>();
            for (JsonNode q : c.path("requests")) requests.add(q.asString());
            configs.add(new AllocatedClaim.OpaqueConfig("FromClass".equals(c.path("source").asString("")), requests,
                    opaque.path("parameters")));
        }
        return new AllocatedClaim(ref, serviceAccount, results, configs);
    }
}
