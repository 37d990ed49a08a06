package io.vfiobroker.cli;

import io.grpc.StatusRuntimeException;
import io.vfiobroker.api.v1.Backend;
import io.vfiobroker.api.v1.FdInfo;
import io.vfiobroker.client.AcquiredDevices;
import io.vfiobroker.client.VfioBrokerClient;
import io.vfiobroker.nativeshim.Exec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Acquires devices, then becomes PROGRAM with the lease's fds as 3, 4, ... announced the systemd way
 * (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES). The pid does not change, so the lease ends when the program exits.
 */
@Command(name = "run", description = "Acquire devices as the calling user, then exec PROGRAM with their fds (LISTEN_FDS) and the memlock limit set.")
final class RunCommand extends CliCommand {

    @Option(names = "--device", paramLabel = "ADDR", description = "a device to acquire (repeatable; with --allocation: default all of its devices)")
    List<String> devices = new ArrayList<>();

    @Mixin
    AcquireOptions acquire;

    @Parameters(arity = "1..*", paramLabel = "PROGRAM", description = "the program and its arguments (after --)")
    List<String> command;

    @Override
    public Integer call() {
        Backend b = acquire.backend();
        // Checked before acquiring: once exec has started replacing this process there is no clean way back.
        String program = command.get(0);
        boolean found = program.contains("/") ? java.nio.file.Files.isExecutable(Path.of(program))
                : java.util.Arrays.stream(System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":"))
                        .anyMatch(d -> java.nio.file.Files.isExecutable(Path.of(d, program)));
        if (!found) throw new IllegalArgumentException("program '" + program + "' not found or not executable");
        VfioBrokerClient client = acquire.connect(devices);
        AcquiredDevices got;
        try {
            got = client.acquire(devices, b, acquire.memlock);
        } catch (StatusRuntimeException e) {
            throw new IllegalStateException("acquire refused (" + e.getStatus().getCode() + "): " + e.getStatus().getDescription());
        }
        List<String> names = new ArrayList<>();
        int[] fds = new int[got.fds().size()];
        for (int i = 0; i < fds.length; i++) {
            FdInfo f = got.bundle().getFds(i);
            fds[i] = got.fds().get(i).fd();
            names.add(switch (f.getKind()) {
                case KIND_CONTAINER -> "container";
                case KIND_IOMMUFD -> "iommufd";
                case KIND_GROUP -> "group-" + f.getIommuGroup();
                // ':' separates LISTEN_FDNAMES (and systemd refuses it in a name): an address's colons become '_'.
                case KIND_DEVICE -> "device-" + f.getDevice().replace(':', '_');
                default -> "unknown";
            });
        }
        Map<String, String> env = new LinkedHashMap<>(System.getenv());
        env.put("LISTEN_FDS", Integer.toString(fds.length));
        env.put("LISTEN_PID", Long.toString(ProcessHandle.current().pid()));
        env.put("LISTEN_FDNAMES", String.join(":", names));
        env.put("VFIO_BROKER_LEASE", got.lease().getId());
        if (got.bundle().getFdsList().stream().anyMatch(f -> f.getKind() == FdInfo.Kind.KIND_IOMMUFD)) {
            env.put("VFIO_BROKER_IOAS", Integer.toString(got.bundle().getFdsList().stream()
                    .filter(f -> f.getKind() == FdInfo.Kind.KIND_IOMMUFD).findFirst().orElseThrow().getIoasId()));
        }
        System.out.flush();
        // The gRPC channel's threads and sockets vanish with the exec; the daemon keeps the lease by our pid.
        Exec.execWithFds(command.get(0), command.subList(1, command.size()), env, fds);
        return 1; // not reached: execWithFds throws on failure
    }
}
