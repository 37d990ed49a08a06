package io.vfiobroker.lease;

import io.vfiobroker.domain.PciAddress;

import java.time.Instant;
import java.util.List;

/** A grant of devices to one client process, from Acquire to its end. Immutable: a change is a new value. */
public record Lease(String id, Caller holder, List<Device> devices, String backend, boolean unsafeInterrupts, String rule,
                    long memlockLimitBytes, State state, Instant created, Instant ended, String endReason) {

    public enum State { PENDING, ACTIVE, ENDED }

    public record Device(PciAddress address, int group, String vendorDevice) {
    }

    public Lease {
        devices = List.copyOf(devices);
    }

    public Lease withState(State s) {
        return new Lease(id, holder, devices, backend, unsafeInterrupts, rule, memlockLimitBytes, s, created, ended, endReason);
    }

    public Lease ended(String reason) {
        return new Lease(id, holder, devices, backend, unsafeInterrupts, rule, memlockLimitBytes, State.ENDED, created, Instant.now(), reason);
    }

    public boolean active() {
        return state != State.ENDED;
    }
}
