package io.vfiobroker.dra;

import tools.jackson.databind.JsonNode;

import java.util.List;

/**
 * What the scheduler allocated to a claim, for this driver only: its devices and the opaque configs that apply.
 *
 * @param serviceAccount the service account of the pod the claim is reserved for, null when unknown
 */
public record AllocatedClaim(ClaimRef ref, String serviceAccount, List<Result> results, List<OpaqueConfig> configs) {

    public AllocatedClaim {
        results = List.copyOf(results);
        configs = List.copyOf(configs);
    }

    /** One allocated device: {@code status.allocation.devices.results[]}. */
    public record Result(String request, String driver, String pool, String device) {
    }

    /**
     * One opaque config ({@code status.allocation.devices.config[]}) for this driver.
     *
     * @param fromClass true for a DeviceClass config (applied first), false for the claim's own
     * @param requests  the requests it applies to; empty for all
     */
    public record OpaqueConfig(boolean fromClass, List<String> requests, JsonNode parameters) {
        public OpaqueConfig {
            requests = List.copyOf(requests);
        }

        boolean appliesTo(String request) {
            // A subrequest "req/sub" is covered by a config naming its parent "req".
            return requests.isEmpty() || requests.contains(request)
                    || (request.contains("/") && requests.contains(request.substring(0, request.indexOf('/'))));
        }
    }
}
