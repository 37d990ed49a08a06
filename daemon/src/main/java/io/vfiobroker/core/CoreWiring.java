package io.vfiobroker.core;

import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.binding.BindingRequests;
import io.vfiobroker.binding.BindingRules;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.host.LinuxSysfsHost;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.inventory.InventoryCache;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import io.vfiobroker.policy.LoadStatus;
import io.vfiobroker.policy.Policy;
import io.vfiobroker.policy.PolicyService;
import io.vfiobroker.protect.HostView;
import io.vfiobroker.protect.ProtectionScanner;

import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * How the core's services are built, written once: the daemon's Spring configuration calls these for its beans, and
 * the CLI calls {@link #local} when no daemon answers. A rule changed here changes for both.
 */
public final class CoreWiring {

    private CoreWiring() {
    }

    /** The host below {@code root}; {@code simulateKernel} makes a generated tree react to writes like the kernel. */
    public static SysfsHost host(Path root, boolean simulateKernel) {
        return simulateKernel ? new SimulatedKernelHost(root) : new LinuxSysfsHost(root);
    }

    public static InventoryScanner scanner(SysfsHost host) {
        return new InventoryScanner(host, PciIds.system());
    }

    /** Protection reads the host's mounts and routes where the deployment put its proc ({@code hostProc}). */
    public static ProtectionScanner protection(SysfsHost host, String hostProc) {
        return new ProtectionScanner(host, new HostView(host, hostProc));
    }

    /** Binding under the policy's binding rules, read at each bind, so a reloaded policy applies to the next one. */
    public static BindingService binding(SysfsHost host, InventoryScanner scanner, Journal journal, Supplier<Policy> policy,
                                         ProtectionScanner protection) {
        return new BindingService(host, scanner, journal, () -> BindingRules.of(policy.get()), protection);
    }

    /** The facade over them; device access is the policy's, admins' binding changes are audited with who asked. */
    public static DeviceProvisioning provisioning(InventoryScanner scanner, InventoryCache cache, BindingService binding, AuditLog audit,
                                                  PolicyService policy) {
        return new DeviceProvisioning(scanner, cache, new BindingRequests(binding, audit), DeviceAccess.policy(policy));
    }

    /** The core of a run without a daemon, and which binding rules it applies. */
    public record Local(DeviceProvisioning core, String rulesNote) {
    }

    /**
     * The core for one run without a daemon: the policy file's binding rules, read once; an invalid file is refused
     * rather than binding without rules. {@code audited}: changes are recorded in the state directory's audit log.
     */
    public static Local local(Path root, boolean simulateKernel, Path stateDir, Path policyFile, String hostProc, boolean audited) {
        SysfsHost host = host(root, simulateKernel);
        InventoryScanner scanner = scanner(host);
        Policy policy;
        String rulesNote;
        try (PolicyService ps = new PolicyService(policyFile, scanner)) {
            LoadStatus st = ps.status();
            if (st.state() == LoadStatus.State.REJECTED) {
                throw new IllegalArgumentException("policy file " + policyFile + " is invalid (" + st.message() + "); its binding rules "
                        + "cannot be applied, so nothing is bound or released: fix it, or name another with --policy");
            }
            policy = ps.current();
            rulesNote = st.state() == LoadStatus.State.MISSING ? "no policy file at " + policyFile + ", so no binding rules"
                    : "binding rules of " + policyFile;
        }
        BindingService binding = binding(host, scanner, new Journal(stateDir), () -> policy, protection(host, hostProc));
        BindingRequests requests = new BindingRequests(binding, audited ? new AuditLog(stateDir) : null);
        // Offline nothing is handed to a consumer: prepare is the daemon's, so policy is not consulted here.
        return new Local(new DeviceProvisioning(scanner, requests, (w, d, i) -> Optional.of("offline: only the daemon hands devices out")), rulesNote);
    }
}
