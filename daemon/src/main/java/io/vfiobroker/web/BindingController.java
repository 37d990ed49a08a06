package io.vfiobroker.web;

import io.vfiobroker.binding.BindingPlan;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.core.DeviceProvisioning;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

import java.util.Collection;

/**
 * Bind and release IOMMU groups (admin only: the API listens on loopback unless TLS and a login are set up).
 * The core's audited binding changes serve gRPC Bindings and the CLI too.
 */
@RestController
@RequestMapping("/api/v1/bindings")
public class BindingController {

    private static final String BY = "REST API";

    private final DeviceProvisioning core;

    public BindingController(DeviceProvisioning core) {
        this.core = core;
    }

    /** Either {@code address} or {@code group}; {@code dryRun} answers the plan without touching anything. */
    public record BindRequest(String address, Integer group, Boolean dryRun) {
        boolean dryRunOrFalse() {
            return Boolean.TRUE.equals(dryRun);
        }
    }

    @PostMapping
    public BindingPlan bind(@RequestBody BindRequest req) {
        return core.bind(req.address(), req.group(), req.dryRunOrFalse(), BY);
    }

    @DeleteMapping("/{group}")
    public BindingPlan release(@PathVariable String group, @RequestParam(defaultValue = "false") boolean dryRun,
                               @RequestParam(defaultValue = "true") boolean restore) {
        return core.release(null, DeviceProvisioning.parseGroup(group), restore, dryRun, BY);
    }

    @GetMapping
    public Collection<Journal.Owned> status() {
        return core.owned().values();
    }
}
