package io.vfiobroker.kubelet;

import io.vfiobroker.nodeplugin.PoolConfig;
import org.springframework.boot.context.properties.ConfigurationProperties;

import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The kubelet device-plugin adapter, under {@code vfio-broker.kubelet.*}. Kept out of the policy file on
 * purpose: the policy decides who may have a device; pools only say how the kubelet sees devices.
 *
 * @param enabled         serve device plugins (off by default: a daemon outside Kubernetes has no kubelet)
 * @param pluginDir       the kubelet's device-plugin directory, below the host root
 * @param cdiDir          where CDI specs are written, below the host root ({@code /var/run/cdi} wins over /etc/cdi)
 * @param cdi             write CDI specs and answer CDI device names in Allocate
 * @param resourceDomain  the extended-resource prefix, {@code <domain>/<pool>}
 * @param brokerSocketDir the daemon's socket directory as the node sees it, mounted into pods of broker-mode pools
 * @param refreshInterval how often health is re-read (sysfs has no change notification for every fact used)
 * @param pools           one device-plugin endpoint each
 */
@ConfigurationProperties("vfio-broker.kubelet")
public record KubeletProperties(boolean enabled, String pluginDir, String cdiDir, Boolean cdi, String resourceDomain,
                                String brokerSocketDir, Duration refreshInterval, List<PoolConfig> pools) {

    private static final Pattern DOMAIN = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

    public KubeletProperties {
        if (pluginDir == null) pluginDir = "var/lib/kubelet/device-plugins";
        if (cdiDir == null) cdiDir = "var/run/cdi";
        if (cdi == null) cdi = true;
        if (resourceDomain == null) resourceDomain = "vfio-broker.io";
        if (brokerSocketDir == null) brokerSocketDir = "/run/vfio-broker";
        if (refreshInterval == null) refreshInterval = Duration.ofSeconds(5);
        pools = pools == null ? List.of() : List.copyOf(pools);
        pluginDir = relative(pluginDir);
        cdiDir = relative(cdiDir);
        if (!DOMAIN.matcher(resourceDomain).matches() || resourceDomain.length() > 253) {
            throw new IllegalArgumentException("vfio-broker.kubelet.resource-domain '" + resourceDomain
                    + "' is not a DNS subdomain (e.g. vfio-broker.io)");
        }
        if (!brokerSocketDir.startsWith("/")) {
            throw new IllegalArgumentException("vfio-broker.kubelet.broker-socket-dir must be absolute, got '" + brokerSocketDir + "'");
        }
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (PoolConfig p : pools) {
            if (!seen.add(p.name())) throw new IllegalArgumentException("vfio-broker.kubelet.pools: pool '" + p.name() + "' is defined twice");
        }
    }

    /** Host paths are read below the configurable root, so "/var/lib/..." and "var/lib/..." mean the same. */
    private static String relative(String p) {
        String s = p.strip();
        while (s.startsWith("/")) s = s.substring(1);
        if (s.isEmpty() || s.contains("..")) throw new IllegalArgumentException("host path '" + p + "' must name a directory below the host root");
        return s;
    }

    public static KubeletProperties of(List<PoolConfig> pools) {
        return new KubeletProperties(true, null, null, null, null, null, null, pools);
    }

    public String resourceName(PoolConfig pool) {
        return resourceDomain + "/" + pool.name();
    }
}
