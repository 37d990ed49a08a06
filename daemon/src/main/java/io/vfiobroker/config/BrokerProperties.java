package io.vfiobroker.config;

import org.springframework.boot.context.properties.ConfigurationProperties;

import java.nio.file.Path;

/**
 * Daemon settings under {@code vfio-broker.*}.
 *
 * @param root     host root that sys/, dev/ and proc/ are read (and written) below; "/" in production
 * @param demo     generate a demo host tree in a temporary directory and serve it instead of {@code root}
 * @param stateDir where the daemon keeps its journal and audit log
 */
@ConfigurationProperties("vfio-broker")
public record BrokerProperties(Path root, boolean demo, Path stateDir) {
    public BrokerProperties {
        if (root == null) root = Path.of("/");
        if (stateDir == null) stateDir = Path.of("/var/lib/vfio-broker");
    }
}
