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

    Backend backend() {
        return ClientCommand.wireBackend(backend);
    }

    @Option(names = "--run-dir", description = "daemon run directory (default: $VFIO_BROKER_SOCKET's, else /run/vfio-broker)")
    Path runDir;

    @Option(names = "--allocation", description = "broker-mode allocation token from the device plugin (default $VFIO_BROKER_ALLOCATION)")
    String allocation;

    VfioBrokerClient connect(List<String> devices) {
        return ClientCommand.connect(runDir, allocation, devices);
    }
}
