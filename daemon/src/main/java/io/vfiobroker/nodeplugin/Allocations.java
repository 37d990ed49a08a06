package io.vfiobroker.nodeplugin;

import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.lease.AllocationGate;
import io.vfiobroker.lease.LeaseException;

import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Broker-mode allocations from the kubelet's Allocate: a random token bound to a resource and the devices the
 * kubelet gave one container. A client presenting the token may lease those devices (one lease at a time), as
 * the principal "Kubernetes resource R". The token outlives its leases so a restarted container (same env,
 * the kubelet does not call Allocate again) can acquire again; while no lease holds it, it expires after the TTL.
 * Synchronized: Allocate (the kubelet's calls) and Acquire (clients') meet here.
 */
public final class Allocations implements AllocationGate {

    record Allocation(String token, String resource, Set<PciAddress> devices, Instant created, Instant expires, String leaseId) {
        Allocation claimed(String lease) {
            return new Allocation(token, resource, devices, created, null, lease);
        }

        Allocation unclaimed(Instant expiry) {
            return new Allocation(token, resource, devices, created, expiry, null);
        }

        String describe() {
            return "allocation of " + resource + " " + devices;
        }
    }

    private final Map<String, Allocation> byToken = new LinkedHashMap<>();
    private final SecureRandom random = new SecureRandom();
    private Duration ttl;

    public Allocations(Duration unclaimedTtl) {
        this.ttl = unclaimedTtl;
    }

    /** The TTL of tokens left unclaimed from now on. */
    public synchronized void ttl(Duration unclaimedTtl) {
        this.ttl = unclaimedTtl;
    }

    /**
     * Registers a new allocation; every older one sharing a device is dropped (the kubelet has given that device
     * to this container now). Answers the new token and the leases of the dropped ones, which the caller ends.
     */
    synchronized Map.Entry<String, List<String>> register(String resource, Set<PciAddress> devices) {
        Instant now = Instant.now();
        List<String> orphaned = new ArrayList<>();
        for (Iterator<Allocation> it = byToken.values().iterator(); it.hasNext(); ) {
            Allocation a = it.next();
            boolean expired = a.expires() != null && now.isAfter(a.expires());
            if (expired || a.devices().stream().anyMatch(devices::contains)) {
                it.remove();
                if (a.leaseId() != null) orphaned.add(a.leaseId());
            }
        }
        byte[] b = new byte[32];
        random.nextBytes(b);
        String token = Base64.getUrlEncoder().withoutPadding().encodeToString(b);
        byToken.put(token, new Allocation(token, resource, Set.copyOf(devices), now, now.plus(ttl), null));
        return Map.entry(token, orphaned);
    }

    /** The allocation {@code token} names, if it may lease now; every refusal says why. */
    @Override
    public synchronized AllocationGate.Allocation claimable(String token) {
        Allocation a = byToken.get(token);
        if (a != null && a.expires() != null && Instant.now().isAfter(a.expires())) {
            byToken.remove(token);
            a = null;
        }
        if (a == null) {
            throw new LeaseException(LeaseException.Kind.DENIED, "unknown or expired allocation token (VFIO_BROKER_ALLOCATION): it was"
                    + " never issued, a later Allocate of its devices replaced it, or it stayed unclaimed longer than " + ttl);
        }
        if (a.leaseId() != null) {
            throw new LeaseException(LeaseException.Kind.PRECONDITION, "the " + a.describe() + " is held by lease " + a.leaseId()
                    + ": one lease per allocation at a time; release it first");
        }
        return new AllocationGate.Allocation(a.token(), a.resource(), a.devices());
    }

    /**
     * Checked again here, under the same lock as a later Allocate: two Acquires under one token may both have passed
     * {@link #claimable}, and an Allocate may have replaced the token since. Either way this lease would escape the
     * take-back a replacing Allocate does, so it is refused (and its Acquire undone).
     */
    @Override
    public synchronized void claim(String token, String leaseId) {
        Allocation a = byToken.get(token);
        if (a == null) {
            throw new LeaseException(LeaseException.Kind.DENIED, "allocation token (VFIO_BROKER_ALLOCATION) replaced or expired while the lease "
                    + leaseId + " was being granted: a later Allocate gave its devices to another container");
        }
        if (a.leaseId() != null && !a.leaseId().equals(leaseId)) {
            throw new LeaseException(LeaseException.Kind.PRECONDITION, "the " + a.describe() + " is held by lease " + a.leaseId()
                    + ": one lease per allocation at a time; release it first");
        }
        byToken.put(token, a.claimed(leaseId));
    }

    /** A lease ended: its allocation may be claimed again, until the TTL runs out. */
    @Override
    public synchronized void leaseEnded(String leaseId) {
        Instant expiry = Instant.now().plus(ttl);
        byToken.replaceAll((t, a) -> leaseId.equals(a.leaseId()) ? a.unclaimed(expiry) : a);
    }
}
