package io.vfiobroker.dra;

import io.vfiobroker.cdi.CdiSpec;
import io.vfiobroker.cdi.CdiSpecWriter;
import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.core.PrepareException;
import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.nodeplugin.Exposure;
import io.vfiobroker.nodeplugin.KubeletAllocationHook;
import io.vfiobroker.nodeplugin.PoolConfig;
import io.vfiobroker.nodeplugin.PoolDevice;
import io.vfiobroker.policy.Principal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The node side of the DRA driver, without the wire: prepares a claim (checks, policy, bind, CDI spec, checkpoint)
 * and unprepares it (release, restore, CDI spec, checkpoint). Both are idempotent per claim UID, as the kubelet
 * retries them freely. One lock: claims are few and binding serialises on the journal anyway.
 */
public final class DraDriver {

    private static final Logger log = LoggerFactory.getLogger(DraDriver.class);

    private final DraProperties props;
    private final DeviceProvisioning core;
    private final KubeletAllocationHook hook;
    private final ClaimSource claims;
    private final PreparedClaims checkpoint;
    private final CdiSpecWriter cdi;
    private final Map<String, PoolConfig> poolsByName = new LinkedHashMap<>();

    /** @param host only where the daemon keeps its CDI specs; device facts come from {@code core} */
    public DraDriver(DraProperties props, SysfsHost host, DeviceProvisioning core, KubeletAllocationHook hook, ClaimSource claims,
                     Path stateDir) {
        this.props = props;
        this.cdi = new CdiSpecWriter(host.daemonPath(props.cdiDir()));
        this.core = core;
        this.hook = hook;
        this.claims = claims;
        this.checkpoint = new PreparedClaims(stateDir);
        for (PoolConfig p : props.pools()) poolsByName.put(props.poolName(p), p);
    }

    public PreparedClaims checkpoint() {
        return checkpoint;
    }

    public CdiSpecWriter cdiWriter() {
        return cdi;
    }

    /** The CDI kind of the claims' spec: {@code <driver>/claim}. */
    public String cdiKind() {
        return props.driverName() + "/claim";
    }

    /** The DRA device name of a PCI function: a DNS label, "0000:3b:02.0" → "0000-3b-02-0". */
    public static String deviceName(PciAddress a) {
        return a.toString().replace(':', '-').replace('.', '-');
    }

    static PciAddress address(String deviceName) {
        String[] p = deviceName.split("-");
        if (p.length != 4) throw new IllegalArgumentException("not a PCI device name");
        return PciAddress.parse(p[0] + ":" + p[1] + ":" + p[2] + "." + p[3]);
    }

    /**
     * Policy's principal for a claim, as a {@code kubernetesResource} name: its pod's service account when known,
     * {@code <namespace>.serviceaccounts/<name>}, else the claim itself, {@code <namespace>.resourceclaims/<name>}
     * (a namespace is a DNS label without dots, so the two forms never collide).
     */
    static String principal(AllocatedClaim c) {
        ClaimRef r = c.ref();
        return c.serviceAccount() != null && !c.serviceAccount().isBlank()
                ? r.namespace() + ".serviceaccounts/" + c.serviceAccount()
                : r.namespace() + ".resourceclaims/" + r.name();
    }

    /** Rewrites the CDI spec from the checkpoint (at start: the spec dir may be a tmpfs that did not survive a reboot). */
    public synchronized void restore() {
        writeCdi(checkpoint.all());
        if (!checkpoint.all().isEmpty()) log.info("event=dra-checkpoint-loaded file={} claims={}", checkpoint.file(), checkpoint.all().keySet());
    }

    // ---- Prepare --------------------------------------------------------------------------------------------

    public synchronized List<PreparedClaims.PreparedDevice> prepare(ClaimRef ref) {
        PreparedClaims.Prepared done = checkpoint.get(ref.uid());
        if (done != null) {
            writeCdi(checkpoint.all()); // already prepared: the same answer, and the spec is there
            return done.devices();
        }
        AllocatedClaim claim = claims.allocation(ref);
        if (claim.results().isEmpty()) {
            throw new DraException("claim " + ref.describe() + " has no device of driver " + props.driverName() + " allocated");
        }
        String principal = principal(claim);
        HostInventory inv = core.inventory();
        Map<PciAddress, String> original = core.originalDrivers();
        Map<PciAddress, String> inUse = new HashMap<>();
        for (PreparedClaims.Prepared p : checkpoint.all().values()) {
            for (PreparedClaims.PreparedDevice d : p.devices()) inUse.put(PciAddress.parse(d.pciAddress()), p.namespace() + "/" + p.name());
        }

        // Everything is checked before anything is bound: a refused claim leaves the host as it was.
        record Planned(AllocatedClaim.Result result, PoolConfig pool, Device device, ClaimConfig config) {
        }
        List<Planned> plan = new ArrayList<>();
        for (AllocatedClaim.Result r : claim.results()) {
            PoolConfig pool = poolsByName.get(r.pool());
            if (pool == null) {
                throw new DraException("claim " + ref.describe() + ": pool " + r.pool() + " is not served on node " + props.nodeName()
                        + " (pools here: " + String.join(", ", poolsByName.keySet()) + ")");
            }
            PciAddress a;
            try {
                a = address(r.device());
            } catch (IllegalArgumentException e) {
                throw new DraException("claim " + ref.describe() + ": device " + r.device() + " is not a vfio-broker device name");
            }
            Device d = inv.device(a).orElseThrow(() -> new DraException("claim " + ref.describe() + ": device " + r.device()
                    + " (" + a + ") is gone from the host"));
            if (!pool.selectors().matches(d, core.selectorFacts(inv, original), null)) {
                throw new DraException("claim " + ref.describe() + ": " + a + " does not belong to pool " + r.pool());
            }
            if (d.iommuGroup() == null) {
                throw new DraException("claim " + ref.describe() + ": " + a + " is in no IOMMU group (the kernel has no IOMMU for it)");
            }
            String other = inUse.get(a);
            if (other != null) throw new DraException("claim " + ref.describe() + ": " + a + " is prepared for claim " + other);
            ClaimConfig cfg = config(claim, r.request());
            Backend backend = cfg.backend() != null ? cfg.backend() : pool.backend();
            if (pool.mode() == PoolConfig.Mode.DEVICE_NODES && backend == Backend.IOMMUFD && !core.deviceNodes().hasShared(Backend.IOMMUFD)) {
                throw new DraException("claim " + ref.describe() + ": backend iommufd, but the node has no /dev/iommu"
                        + " (kernel without CONFIG_IOMMUFD)");
            }
            plan.add(new Planned(r, pool, d, cfg));
        }

        // Policy for every device, then the binds (broker mode: the lease binds at Acquire); a failure after them undoes them.
        DeviceProvisioning.Prepared bound;
        try {
            bound = core.prepare(Principal.resource(principal), plan.stream().map(p -> p.device().address()).toList(),
                    plan.stream().filter(p -> p.pool().mode() == PoolConfig.Mode.DEVICE_NODES).map(p -> p.device().address()).toList(), inv);
        } catch (PrepareException e) {
            throw new DraException("claim " + ref.describe() + ": " + (e.kind() == PrepareException.Kind.POLICY
                    ? "policy refuses " + e.device() + " to " + principal + ": " : "") + e.getMessage(), e);
        }
        try {
            Map<String, String> env = new LinkedHashMap<>();
            List<PciAddress> brokered = plan.stream().filter(p -> p.pool().mode() == PoolConfig.Mode.BROKER).map(p -> p.device().address()).toList();
            if (!brokered.isEmpty()) env.putAll(hook.allocated(principal, PoolConfig.Mode.BROKER, brokered));
            List<PreparedClaims.PreparedDevice> devices = new ArrayList<>();
            for (Planned p : plan) {
                Backend backend = p.config().backend() != null ? p.config().backend() : p.pool().backend();
                Exposure exp = exposure(p.pool(), backend);
                if (p.pool().mode() == PoolConfig.Mode.DEVICE_NODES && exp.deviceNodes(poolDevice(p.device().address(), p.device().iommuGroup())).isEmpty()) {
                    throw new DraException("claim " + ref.describe() + ": " + p.device().address() + " has no "
                            + (backend == Backend.IOMMUFD ? "vfio cdev after binding (kernel without VFIO_DEVICE_CDEV?)"
                            : "IOMMU group node after binding"));
                }
                String cdiName = ref.uid() + "-" + p.result().device();
                devices.add(new PreparedClaims.PreparedDevice(p.result().request(), p.result().pool(), p.result().device(),
                        p.device().address().toString(), p.device().iommuGroup(), backend.wireName(),
                        p.config().memlockLimit(), p.config().keepBound(), List.of(cdiKind() + "=" + cdiName)));
            }
            PreparedClaims.Prepared prepared = new PreparedClaims.Prepared(ref.namespace(), ref.name(), ref.uid(), principal, env,
                    devices, bound.boundGroups());
            Map<String, PreparedClaims.Prepared> next = new LinkedHashMap<>(checkpoint.all());
            next.put(ref.uid(), prepared);
            writeCdi(next);
            checkpoint.put(prepared);
            log.info("event=dra-claim-prepared claim={}/{} uid={} principal={} devices={} bound-groups={}", ref.namespace(), ref.name(),
                    ref.uid(), principal, devices.stream().map(PreparedClaims.PreparedDevice::pciAddress).toList(), bound.boundGroups());
            return devices;
        } catch (RuntimeException e) {
            core.undo(bound);
            try {
                writeCdi(checkpoint.all());
            } catch (RuntimeException ignored) {
                // the spec still lists only checkpointed claims at worst
            }
            throw e instanceof DraException ? e : new DraException("claim " + ref.describe() + ": " + e.getMessage(), e);
        }
    }

    /** DeviceClass configs first, then the claim's, each overriding the last; errors name claim, config and field. */
    private ClaimConfig config(AllocatedClaim claim, String request) {
        ClaimConfig c = ClaimConfig.DEFAULT;
        for (boolean fromClass : new boolean[]{true, false}) {
            int i = 0;
            for (AllocatedClaim.OpaqueConfig oc : claim.configs()) {
                i++;
                if (oc.fromClass() != fromClass || !oc.appliesTo(request)) continue;
                c = c.apply(oc.parameters(), "claim " + claim.ref().describe() + ": opaque config #" + i
                        + (fromClass ? " (from the DeviceClass)" : " (from the claim)"));
            }
        }
        return c;
    }

    private Exposure exposure(PoolConfig pool, Backend backend) {
        return Exposure.of(new PoolConfig(pool.name(), pool.mode(), backend, pool.selectors()), core.deviceNodes(), props.brokerSocketDir());
    }

    private static PoolDevice poolDevice(PciAddress a, int group) {
        return new PoolDevice(a, group, -1, null);
    }

    // ---- Unprepare ------------------------------------------------------------------------------------------

    /** Releases the claim's groups (restoring drivers unless keepBound); unknown claims are already unprepared. */
    public synchronized void unprepare(ClaimRef ref) {
        PreparedClaims.Prepared p = checkpoint.get(ref.uid());
        if (p == null) return;
        Map<Integer, String> sharedWith = new HashMap<>();
        for (PreparedClaims.Prepared o : checkpoint.all().values()) {
            if (o.uid().equals(p.uid())) continue;
            for (PreparedClaims.PreparedDevice d : o.devices()) sharedWith.putIfAbsent(d.group(), o.uid());
        }
        List<String> failed = new ArrayList<>();
        List<Integer> left = new ArrayList<>();
        for (int g : p.boundGroups()) {
            String other = sharedWith.get(g);
            if (other != null) {
                // Another claim still uses a device of this group: it inherits the duty to release it.
                PreparedClaims.Prepared o = checkpoint.get(other);
                List<Integer> gs = new ArrayList<>(o.boundGroups());
                if (!gs.contains(g)) gs.add(g);
                checkpoint.put(o.withBoundGroups(gs));
                continue;
            }
            boolean keep = p.devices().stream().filter(d -> d.group() == g).allMatch(PreparedClaims.PreparedDevice::keepBound);
            try {
                core.release(g, !keep);
            } catch (RuntimeException e) {
                failed.add("group " + g + ": " + e.getMessage());
                left.add(g);
            }
        }
        if (!failed.isEmpty()) {
            // Keep the claim with what is still bound: the kubelet calls again and we retry.
            checkpoint.put(p.withBoundGroups(left));
            throw new DraException("claim " + ref.describe() + ": cannot release " + String.join("; ", failed));
        }
        Map<String, PreparedClaims.Prepared> next = new LinkedHashMap<>(checkpoint.all());
        next.remove(p.uid());
        writeCdi(next);
        checkpoint.remove(p.uid());
        log.info("event=dra-claim-unprepared claim={}/{} uid={} released-groups={}", p.namespace(), p.name(), p.uid(), p.boundGroups());
    }

    // ---- CDI --------------------------------------------------------------------------------------------------

    /** One spec for every prepared claim; each device carries its own nodes, since claims may differ in backend. */
    private void writeCdi(Map<String, PreparedClaims.Prepared> all) {
        List<CdiSpec.Device> devs = new ArrayList<>();
        for (PreparedClaims.Prepared p : all.values()) {
            for (PreparedClaims.PreparedDevice d : p.devices()) {
                PoolConfig pool = poolsByName.get(d.pool());
                PoolConfig.Mode mode = pool == null ? PoolConfig.Mode.DEVICE_NODES : pool.mode();
                Backend backend = Backend.parse(d.backend());
                Exposure exp = pool == null ? new Exposure.Nodes(backend, core.deviceNodes())
                        : exposure(pool, backend);
                PciAddress a = PciAddress.parse(d.pciAddress());
                List<String> nodes = new ArrayList<>(exp.sharedNodes());
                nodes.addAll(exp.deviceNodes(poolDevice(a, d.group())));
                List<String> env = new ArrayList<>();
                env.add("VFIO_BROKER_DEVICE_" + a.toString().replaceAll("[^0-9a-f]", "_").toUpperCase(Locale.ROOT) + "=" + a);
                if (d.memlockLimit() != null) env.add("VFIO_BROKER_MEMLOCK_LIMIT=" + d.memlockLimit());
                exp.env().forEach((k, v) -> env.add(k + "=" + v));
                p.env().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> env.add(e.getKey() + "=" + e.getValue()));
                List<CdiSpec.Mount> mounts = exp.mounts().stream().map(m -> new CdiSpec.Mount(m.hostPath(), m.containerPath(),
                        m.readOnly() ? List.of("bind", "ro", "nosuid", "nodev") : List.of("bind", "nosuid", "nodev"), null)).toList();
                String name = d.cdiIds().get(0).substring(d.cdiIds().get(0).indexOf('=') + 1);
                devs.add(new CdiSpec.Device(name, new CdiSpec.ContainerEdits(env,
                        nodes.stream().map(n -> new CdiSpec.DeviceNode(n, null, "c", "rw")).toList(), mounts)));
            }
        }
        if (devs.isEmpty()) {
            cdi.remove(cdiKind());
        } else {
            cdi.write(new CdiSpec(cdiKind(), devs, null));
        }
    }
}
