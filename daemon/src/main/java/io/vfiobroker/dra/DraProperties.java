package io.vfiobroker.dra;

import io.vfiobroker.nodeplugin.PoolConfig;
import org.springframework.boot.context.properties.ConfigurationProperties;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The kubelet DRA driver, under {@code vfio-broker.dra.*}. Pools use the device plugin's shape (selectors, mode,
 * backend); a claim's opaque config may override the backend and add a memlock limit and keepBound.
 *
 * @param enabled         register with the kubelet as a DRA plugin (off by default: no kubelet outside Kubernetes)
 * @param driverName      the DRA driver name, a DNS subdomain ({@code vfio.vfio-broker.io})
 * @param kubeletDir      the kubelet's root directory below the host root (plugins_registry and plugins/ live there)
 * @param cdiDir          where the claims' CDI spec is written, below the host root
 * @param nodeName        this node's name: the DRA pools are named {@code <node>-<pool>}
 * @param brokerSocketDir the daemon's socket directory as the node sees it (broker-mode pools mount it)
 * @param pools           the device pools offered through DRA
 */
@ConfigurationProperties("vfio-broker.dra")
public record DraProperties(boolean enabled, String driverName, String kubeletDir, String cdiDir, String nodeName,
                            String brokerSocketDir, List<PoolConfig> pools) {

    private static final Pattern SUBDOMAIN = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

    public DraProperties {
        if (driverName == null) driverName = "vfio.vfio-broker.io";
        if (kubeletDir == null) kubeletDir = "var/lib/kubelet";
        if (cdiDir == null) cdiDir = "var/run/cdi";
        if (nodeName == null || nodeName.isBlank()) nodeName = System.getenv().getOrDefault("NODE_NAME", "node");
        if (brokerSocketDir == null) brokerSocketDir = "/run/vfio-broker";
        pools = pools == null ? List.of() : List.copyOf(pools);
        kubeletDir = relative("kubelet-dir", kubeletDir);
        cdiDir = relative("cdi-dir", cdiDir);
        if (!SUBDOMAIN.matcher(driverName).matches() || driverName.length() > 63) {
            throw new IllegalArgumentException("vfio-broker.dra.driver-name '" + driverName
                    + "' is not a DNS subdomain of at most 63 characters (e.g. vfio.vfio-broker.io)");
        }
        if (!SUBDOMAIN.matcher(nodeName).matches()) {
            throw new IllegalArgumentException("vfio-broker.dra.node-name '" + nodeName + "' is not a DNS subdomain");
        }
        Set<String> seen = new HashSet<>();
        for (PoolConfig p : pools) {
            if (!seen.add(p.name())) throw new IllegalArgumentException("vfio-broker.dra.pools: pool '" + p.name() + "' is defined twice");
        }
    }

    private static String relative(String key, String p) {
        String s = p.strip();
        while (s.startsWith("/")) s = s.substring(1);
        if (s.isEmpty() || s.contains("..")) {
            throw new IllegalArgumentException("vfio-broker.dra." + key + " '" + p + "' must name a directory below the host root");
        }
        return s;
    }

    public static DraProperties of(String nodeName, List<PoolConfig> pools) {
        return new DraProperties(true, null, null, null, nodeName, null, pools);
    }

    /** The DRA pool name of a configured pool on this node. */
    public String poolName(PoolConfig pool) {
        return nodeName + "-" + pool.name();
    }

    /** Registration socket, below the host root: {@code <kubelet-dir>/plugins_registry/<driver>-reg.sock}. */
    public String registrationSocket() {
        return kubeletDir + "/plugins_registry/" + driverName + "-reg.sock";
    }

    /** The DRA service socket, below the host root: {@code <kubelet-dir>/plugins/<driver>/dra.sock}. */
    public String draSocket() {
        return kubeletDir + "/plugins/" + driverName + "/dra.sock";
    }
}
