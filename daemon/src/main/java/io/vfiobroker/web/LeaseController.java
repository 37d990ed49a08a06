package io.vfiobroker.web;

import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.lease.Lease;
import io.vfiobroker.lease.LeaseService;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

import java.util.List;

/** Leases and the audit log for admins (REST listens on loopback unless TLS and a login are configured). */
@RestController
@RequestMapping("/api/v1")
public class LeaseController {

    private final LeaseService leases;
    private final AuditLog audit;

    public LeaseController(LeaseService leases, AuditLog audit) {
        this.leases = leases;
        this.audit = audit;
    }

    @GetMapping("/leases")
    public List<Lease> leases(@RequestParam(defaultValue = "false") boolean includeEnded) {
        if (!includeEnded) return leases.active();
        List<Lease> all = new java.util.ArrayList<>(leases.active());
        all.addAll(leases.recentlyEnded());
        return all;
    }

    @GetMapping("/leases/{id}")
    public Lease lease(@PathVariable String id) {
        return leases.get(id).orElseThrow(() -> new NotFoundException("no lease " + id));
    }

    @DeleteMapping("/leases/{id}")
    public Lease revoke(@PathVariable String id) {
        return leases.revoke(id, "revoked by admin").orElseThrow(() -> new NotFoundException("no active lease " + id));
    }

    @GetMapping("/audit")
    public List<AuditLog.Record> audit(@RequestParam(defaultValue = "0") int page, @RequestParam(defaultValue = "50") int size) {
        if (page < 0 || size < 1 || size > 500) throw new IllegalArgumentException("page must be >= 0 and size 1..500");
        return audit.page(page, size);
    }
}
