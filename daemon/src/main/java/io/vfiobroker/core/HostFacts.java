package io.vfiobroker.core;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.Accounts;
import io.vfiobroker.interrupts.InterruptChips;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.policy.Explanation;
import io.vfiobroker.policy.Policy;
import io.vfiobroker.policy.PolicyEngine;
import io.vfiobroker.policy.Principal;

import java.util.Optional;

/**
 * What a host tree has, read now, and what a policy file says of one device on it: the core the CLI's reports call
 * when no daemon answers. Reads only; binds nothing.
 */
public final class HostFacts {

    private final InventoryScanner scanner;

    public HostFacts(InventoryScanner scanner) {
        this.scanner = scanner;
    }

    public HostInventory inventory() {
        return scanner.scan();
    }

    /** One device, read now; empty when the host has no such function. */
    public Optional<Device> device(PciAddress address) {
        return scanner.device(address);
    }

    /** The host's passwd and group, for a principal given by uid alone. */
    public Accounts accounts() {
        return scanner.host().accounts();
    }

    /** {@code policy}'s answer for {@code who} and {@code device}, with the host's inventory, interrupt chips and accounts. */
    public Explanation explain(Policy policy, Principal who, PciAddress device) {
        return PolicyEngine.evaluate(policy, who, device, scanner.scan(), InterruptChips.read(scanner.host()), accounts());
    }

    /** Names the host (its root) in messages. */
    @Override
    public String toString() {
        return scanner.host().toString();
    }
}
