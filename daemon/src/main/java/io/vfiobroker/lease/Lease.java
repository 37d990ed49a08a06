package io.vfiobroker.lease;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.PciAddress;

import java.time.Instant;
import java.util.List;

/**
 * A grant of devices to one client process, from Acquire to its end. Immutable: a change is a new value.
 * {@code devices} are what the client asked for; {@code groupMembers} the other members of their IOMMU groups that
 * the grant also covers (the legacy group fd opens any of them), so policy decided them too and they are reset at
 * the end. {@code stuckHolders} names the processes still holding its fds while it is ENDING or STUCK.
 */
public record Lease(String id, Caller holder, List<Device> devices, List<Device> groupMembers, Backend backend, boolean unsafeInterrupts,
                    String rule, long memlockLimitBytes, State state, Instant created, Instant ended, String endReason,
                    List<String> stuckHolders) {

    /**
     * GRANTED: ticket out, fds not yet collected. ACTIVE: fds handed over. ENDING: being released or taken back.
     * STUCK: the kernel won't let go (processes still hold its fds). ENDED: devices reset and restored.
     */
    public enum State { GRANTED, ACTIVE, ENDING, STUCK, ENDED }

    public record Device(PciAddress address, int group, String vendorDevice) {
    }

    public Lease {
        devices = List.copyOf(devices);
        groupMembers = groupMembers == null ? List.of() : List.copyOf(groupMembers);
        stuckHolders = stuckHolders == null ? List.of() : List.copyOf(stuckHolders);
    }

    public static Lease granted(String id, Caller holder, List<Device> devices, List<Device> groupMembers, Backend backend,
                                boolean unsafeInterrupts, String rule, long memlockLimitBytes) {
        return new Lease(id, holder, devices, groupMembers, backend, unsafeInterrupts, rule, memlockLimitBytes, State.GRANTED,
                Instant.now(), null, null, List.of());
    }

    public Lease withState(State s) {
        return new Lease(id, holder, devices, groupMembers, backend, unsafeInterrupts, rule, memlockLimitBytes, s, created, ended,
                endReason, stuckHolders);
    }

    public Lease ending(String reason) {
        return new Lease(id, holder, devices, groupMembers, backend, unsafeInterrupts, rule, memlockLimitBytes, State.ENDING, created,
                null, reason, List.of());
    }

    public Lease stuck(List<String> holders) {
        return new Lease(id, holder, devices, groupMembers, backend, unsafeInterrupts, rule, memlockLimitBytes, State.STUCK, created,
                null, endReason, holders);
    }

    public Lease ended(String reason) {
        return new Lease(id, holder, devices, groupMembers, backend, unsafeInterrupts, rule, memlockLimitBytes, State.ENDED, created,
                Instant.now(), reason, List.of());
    }

    /** Not yet ENDED: its groups are taken. */
    public boolean active() {
        return state != State.ENDED;
    }

    /** Held or collectable by its client: GRANTED or ACTIVE. */
    public boolean live() {
        return state == State.GRANTED || state == State.ACTIVE;
    }

    /** Every device the grant covers: the requested ones and their group members. */
    public List<Device> allDevices() {
        if (groupMembers.isEmpty()) return devices;
        List<Device> all = new java.util.ArrayList<>(devices);
        all.addAll(groupMembers);
        return all;
    }

    public List<Integer> groups() {
        return devices.stream().map(Device::group).distinct().toList();
    }
}
