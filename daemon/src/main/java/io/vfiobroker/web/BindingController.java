package io.vfiobroker.web;

import io.vfiobroker.binding.BindingPlan;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.domain.PciAddress;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

import java.util.Collection;

/** Bind and release IOMMU groups (admin only: the API listens on loopback unless TLS and a login are set up). */
@RestController
@RequestMapping("/api/v1/bindings")
public class BindingController {

    private final BindingService binding;

    public BindingController(BindingService binding) {
        this.binding = binding;
    }

    /** Either {@code address} or {@code group}; {@code dryRun} answers the plan without touching anything. */
    public record BindRequest(String address, Integer group, Boolean dryRun) {
        boolean dryRunOrFalse() {
            return Boolean.TRUE.equals(dryRun);
        }
    }

    @PostMapping
    public BindingPlan bind(@RequestBody BindRequest req) {
        if ((req.address() == null) == (req.group() == null)) {
            throw new IllegalArgumentException("give exactly one of 'address' or 'group'");
        }
        if (req.address() != null) return binding.bind(PciAddress.parse(req.address()), req.dryRunOrFalse());
        return binding.bindGroup(req.group(), req.dryRunOrFalse());
    }

    @DeleteMapping("/{group}")
    public BindingPlan release(@PathVariable String group, @RequestParam(defaultValue = "false") boolean dryRun,
                               @RequestParam(defaultValue = "true") boolean restore) {
        return binding.release(parseGroup(group), restore, dryRun);
    }

    @GetMapping
    public Collection<Journal.Owned> status() {
        return binding.status().values();
    }

    static int parseGroup(String text) {
        try {
            int n = Integer.parseInt(text);
            if (n >= 0) return n;
        } catch (NumberFormatException ignored) {
            // fall through to the error naming the input
        }
        throw new IllegalArgumentException("invalid IOMMU group '" + text + "': expected a non-negative number");
    }
}
