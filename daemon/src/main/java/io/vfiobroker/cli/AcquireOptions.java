package io.vfiobroker.cli;

import io.vfiobroker.api.v1.Backend;
import io.vfiobroker.client.VfioBrokerClient;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;

/** The options of the commands that acquire devices from the daemon (client, run), each beside what reads it. */
final class AcquireOptions {

    @Option(names = "--memlock", description = "RLIMIT_MEMLOCK to ask for, bytes (default: the policy's)")
    long memlock;

    @Option(names = "--backend", description = "legacy or iommufd (default: the daemon chooses)")
    String backend;

    /** The --backend option on the wire: checked by the domain's one parse, then the proto's same-named value. */
    Backend backend() {
        return backend == null ? Backend.BACKEND_UNSPECIFIED
                : Backend.valueOf("BACKEND_" + io.vfiobroker.domain.Backend.parse(backend).name());
    }

    @Option(names = "--run-dir", description = "daemon run directory (default: $VFIO_BROKER_SOCKET's, else /run/vfio-broker)")
    Path runDir;

    @Option(names = "--allocation", description = "broker-mode allocation token from the device plugin (default $VFIO_BROKER_ALLOCATION)")
    String allocation;

    /** The broker as a pod sees it: socket and token from the device plugin's env unless given. */
    VfioBrokerClient connect(List<String> devices) {
        VfioBrokerClient c = runDir != null ? VfioBrokerClient.connect(runDir) : VfioBrokerClient.fromEnvironment();
        if (allocation != null) c.withAllocation(allocation);
        else if (runDir != null) c.withAllocation(System.getenv(VfioBrokerClient.ALLOCATION_ENV));
        if (devices.isEmpty() && c.allocation() == null) {
            c.close();
            throw new IllegalArgumentException("no devices given: name them, or acquire under --allocation ($"
                    + VfioBrokerClient.ALLOCATION_ENV + ")");
        }
        return c;
    }
}
