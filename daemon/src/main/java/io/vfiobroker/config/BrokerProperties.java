package io.vfiobroker.config;

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
 */
@ConfigurationProperties("vfio-broker")
public record BrokerProperties(Path root, boolean demo, Path stateDir, boolean simulateKernel) {
    public BrokerProperties {
        if (root == null) root = Path.of("/");
    }

    public static Path defaultStateDir(Path root) {
        return root.toAbsolutePath().normalize().resolve("var/lib/vfio-broker");
    }
}
