package io.vfiobroker.cli;

import io.vfiobroker.core.CoreWiring;
import io.vfiobroker.core.HostFacts;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;

/** The host-root and output options every read command shares. */
public final class HostOptions {

    @Option(names = "--root", paramLabel = "DIR", description = "host root to read sys/, dev/ and proc/ below (default: /)")
    Path root = Path.of("/");

    @Option(names = "--json", description = "print JSON instead of a table")
    boolean json;

    HostFacts facts() {
        if (!Files.isDirectory(root)) {
            throw new IllegalArgumentException("host root " + root + " does not exist or is not a directory");
        }
        return new HostFacts(CoreWiring.scanner(CoreWiring.host(root, false)));
    }
}
