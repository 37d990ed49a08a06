package io.vfiobroker.config;

import io.vfiobroker.host.SysfsHost;
import org.springframework.boot.context.properties.ConfigurationProperties;

import java.nio.file.Path;

/**
 * Daemon settings under {@code vfio-broker.*}.
 *
 * @param root     host root that sys/, dev/ and proc/ are read (and written) below; "/" in production
 * @param demo     generate a demo host tree in a temporary directory and serve it instead of {@code root}
 * @param stateDir where the daemon keeps its journal and audit log (default: var/lib/vfio-broker below the root, so
 *                 a daemon on a host tree never writes to the real /var)
 * @param simulateKernel let a generated host tree react to sysfs writes as the kernel would (demo and tests only)
 * @param hostProc the proc directory, below {@code root}, whose mounts and net/ are the host's: /proc for a daemon
 *                 on the host, /proc/1 in a pod with hostPID (the pod's own /proc shows the pod's)
 */
@ConfigurationProperties("vfio-broker")
public record BrokerProperties(Path root, boolean demo, Path stateDir, boolean simulateKernel, String hostProc) {
    public BrokerProperties {
        if (root == null) root = Path.of("/");
        if (hostProc == null || hostProc.isBlank()) hostProc = "/proc";
    }

    public static Path defaultStateDir(Path root) {
        return root.toAbsolutePath().normalize().resolve("var/lib/vfio-broker");
    }

    public static Path defaultStateDir(SysfsHost host) {
        return host.daemonPath("var/lib/vfio-broker");
    }
}
