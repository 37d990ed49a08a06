package io.vfiobroker.web;

import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.authz.Authorization;
import io.vfiobroker.lease.Lease;
import io.vfiobroker.lease.LeaseService;
import jakarta.servlet.http.HttpServletRequest;
import org.springframework.http.HttpStatus;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

import java.util.List;

/** Leases and the audit log: admins see and end all of them, other callers only their own ({@link Authorization#owns}). */
@RestController
@RequestMapping("/api/v1")
public record LeaseController(LeaseService leases, AuditLog audit, Authorization authz) {

    private boolean visible(WebCaller c, Lease l) {
        return c.admin() || authz.owns(c.caller(), l.holder());
    }

    @GetMapping("/leases")
    public List<Lease> leases(@RequestParam(defaultValue = "false") boolean includeEnded, HttpServletRequest req) {
        WebCaller c = WebCaller.of(req);
        List<Lease> all = new java.util.ArrayList<>(leases.active());
        if (includeEnded) all.addAll(leases.recentlyEnded());
        return all.stream().filter(l -> visible(c, l)).toList();
    }

    @GetMapping("/leases/{id}")
    public Lease lease(@PathVariable String id, HttpServletRequest req) {
        Lease l = leases.get(id).orElseThrow(() -> new NotFoundException("no lease " + id));
        if (!visible(WebCaller.of(req), l)) throw notYours(id);
        return l;
    }

    /** An admin revokes any lease; anyone else releases only their own. */
    @DeleteMapping("/leases/{id}")
    public Lease revoke(@PathVariable String id, HttpServletRequest req) {
        WebCaller c = WebCaller.of(req);
        if (c.admin()) return leases.revoke(id, "revoked by admin").orElseThrow(() -> new NotFoundException("no active lease " + id));
        Lease l = leases.get(id).filter(Lease::active).orElseThrow(() -> new NotFoundException("no active lease " + id));
        if (!authz.owns(c.caller(), l.holder())) throw notYours(id);
        return leases.release(id, new io.vfiobroker.lease.Caller(l.holder().pid(), c.uid(), l.holder().gid()));
    }

    private static ResponseStatusException notYours(String id) {
        return new ResponseStatusException(HttpStatus.FORBIDDEN, "lease " + id + " is not yours: only admins see and end other principals' leases");
    }

    /** Non-admins: their own records only; uid 0 outside our namespaces (a pod) has none it could call its own. */
    @GetMapping("/audit")
    public List<AuditLog.Record> audit(@RequestParam(defaultValue = "0") int page, @RequestParam(defaultValue = "50") int size, HttpServletRequest req) {
        if (page < 0 || size < 1 || size > 500) throw new IllegalArgumentException("page must be >= 0 and size 1..500");
        WebCaller c = WebCaller.of(req);
        if (c.admin()) return audit.page(page, size);
        if (c.uid() == 0) return List.of();
        String uid = Integer.toString(c.uid());
        return audit.page(page, size, r -> uid.equals(String.valueOf(r.fields().get("uid"))));
    }
}
