package io.vfiobroker.cli;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.vfiobroker.api.v1.BindRequest;
import io.vfiobroker.api.v1.BindingStatusRequest;
import io.vfiobroker.api.v1.BindingsGrpc;
import io.vfiobroker.api.v1.BoundDevice;
import io.vfiobroker.api.v1.PlannedMember;
import io.vfiobroker.api.v1.ReleaseBindingRequest;
import io.vfiobroker.api.v1.SysfsWrite;
import io.vfiobroker.binding.BindingPlan;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.binding.OwnerLock;
import io.vfiobroker.binding.SysfsStep;
import io.vfiobroker.client.UnixChannels;
import io.vfiobroker.client.VfioBrokerClient;
import io.vfiobroker.config.BrokerProperties;
import io.vfiobroker.core.CoreWiring;
import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.json.DomainJson;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Options shared by bind, release and status, and the one decision they share: while a daemon answers on its
 * api.sock they ask it (gRPC Bindings, as the calling uid: the daemon decides, with its policy and its leases);
 * only when none does, and no daemon holds the state directory's {@link OwnerLock}, do they change bindings
 * themselves, with the policy file's binding rules.
 */
public final class BindingOptions {

    static final Path DEFAULT_POLICY = Path.of("/etc/vfio-broker/policy.yaml");

    @Option(names = "--root", paramLabel = "DIR", description = "host root (default: /)")
    Path root = Path.of("/");

    @Option(names = "--state-dir", paramLabel = "DIR", description = "journal directory (default: var/lib/vfio-broker below the root)")
    Path stateDir;

    @Option(names = "--run-dir", paramLabel = "DIR", description = "the daemon's run directory, where api.sock is (default: $"
            + VfioBrokerClient.SOCKET_ENV + "'s, else run/vfio-broker below the root)")
    Path runDir;

    @Option(names = "--policy", paramLabel = "FILE", description = "policy file whose binding rules apply when no daemon runs "
            + "(default: /etc/vfio-broker/policy.yaml, the daemon's default)")
    Path policy = DEFAULT_POLICY;

    @Option(names = "--simulate-kernel", hidden = true, description = "a generated tree reacts to writes like the kernel (tests, demo)")
    boolean simulateKernel;

    @Option(names = "--host-proc", paramLabel = "DIR", description = "proc directory below the root whose mounts and net/ are "
            + "the host's (default: /proc; /proc/1 in a container with the host PID namespace)")
    String hostProc = "/proc";

    @Option(names = "--json", description = "print JSON")
    boolean json;

    /** The daemon's api.sock as this command looks for it. */
    Path apiSocket() {
        if (runDir != null) return runDir.resolve("api.sock");
        String env = System.getenv(VfioBrokerClient.SOCKET_ENV);
        if (env != null && !env.isBlank()) return Path.of(env);
        return root.toAbsolutePath().normalize().resolve("run/vfio-broker/api.sock");
    }

    /** Where the bindings are changed and read: the daemon, or this process. */
    interface Bindings extends AutoCloseable {
        BindingPlan bind(String address, Integer group, boolean dryRun);

        BindingPlan release(String address, Integer group, boolean restore, boolean dryRun);

        /** Bound devices; with {@code reconcile}, what was reconciled first goes to {@code reconciled}. */
        Collection<Journal.Owned> status(boolean reconcile, List<String> reconciled);

        /** One line saying which path was taken. */
        String path();

        @Override
        void close();
    }

    /**
     * The daemon when one answers on the socket; else this process, holding the owner lock when it will change
     * something ({@code changes}). A daemon that answers but refuses is never worked around.
     */
    Bindings open(boolean changes) {
        Path sock = apiSocket();
        if (Files.exists(sock)) {
            Daemon d = new Daemon(sock);
            try {
                d.probe();
                return d;
            } catch (NotListening e) {
                d.close();
                return offline(changes, "(offline: nothing answers at " + sock + ")");
            } catch (RuntimeException e) {
                d.close();
                throw e;
            }
        }
        return offline(changes, "(offline: no daemon at " + sock + ")");
    }

    private Bindings offline(boolean changes, String note) {
        if (!Files.isDirectory(root)) throw new IllegalArgumentException("host root " + root + " does not exist or is not a directory");
        Path state = stateDir != null ? stateDir : BrokerProperties.defaultStateDir(root);
        OwnerLock lock = OwnerLock.tryTake(state).orElse(null);
        if (lock == null) {
            String why = "a daemon holds " + OwnerLock.file(state) + " but does not answer at " + apiSocket();
            if (changes) {
                throw new IllegalStateException(why + "; not changing bindings behind its back (give its --run-dir, or stop it)");
            }
            note = "(offline, read-only: " + why + ")";
        }
        try {
            CoreWiring.Local local = CoreWiring.local(root, simulateKernel, state, policy, hostProc, changes);
            return new Offline(local.core(), lock, note.substring(0, note.length() - 1) + "; " + local.rulesNote() + ")");
        } catch (RuntimeException e) {
            if (lock != null) lock.close();
            throw e;
        }
    }

    /** Who this process is, for the audit record of an offline change. */
    private static String self() {
        return "CLI offline, pid " + ProcessHandle.current().pid() + ", user " + System.getProperty("user.name");
    }

    private record Offline(DeviceProvisioning core, OwnerLock lock, String path) implements Bindings {
        public BindingPlan bind(String address, Integer group, boolean dryRun) {
            return core.bind(address, group, dryRun, self());
        }

        public BindingPlan release(String address, Integer group, boolean restore, boolean dryRun) {
            return core.release(address, group, restore, dryRun, self());
        }

        public Collection<Journal.Owned> status(boolean reconcile, List<String> reconciled) {
            if (reconcile) reconciled.addAll(core.reconcile(self()));
            return core.owned().values();
        }

        public void close() {
            if (lock != null) lock.close();
        }
    }

    /** The socket exists but nobody accepts on it: a daemon that is gone. */
    private static final class NotListening extends RuntimeException {
        NotListening(String m) {
            super(m, null, false, false);
        }
    }

    private static final class Daemon implements Bindings {
        private final Path sock;
        private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        private final ManagedChannel channel;

        Daemon(Path sock) {
            this.sock = sock;
            this.channel = UnixChannels.builder(sock).eventLoopGroup(group).build();
        }

        void probe() {
            try {
                HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance());
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() == Status.Code.UNAVAILABLE && refused(e)) throw new NotListening(e.getMessage());
                if (e.getStatus().getCode() != Status.Code.UNIMPLEMENTED) throw failure(e);
                // it answers, only without the health service
            }
        }

        private static boolean refused(Throwable e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t.getMessage() != null && t.getMessage().contains("Connection refused")) return true;
            }
            return false;
        }

        private RuntimeException failure(StatusRuntimeException e) {
            String d = e.getStatus().getDescription();
            Throwable c = e.getStatus().getCause();
            String why = d != null ? d : c != null && c.getMessage() != null ? c.getMessage() : "";
            return new IllegalStateException("the daemon at " + sock + " answered " + e.getStatus().getCode() + (why.isEmpty() ? "" : ": " + why));
        }

        /** One call to the daemon; its refusal becomes an exception that says what the daemon answered. */
        private <T> T ask(Function<BindingsGrpc.BindingsBlockingStub, T> call) {
            // A bind waits for drivers to let go and probe: give the kernel time.
            BindingsGrpc.BindingsBlockingStub stub = BindingsGrpc.newBlockingStub(channel).withDeadlineAfter(180, TimeUnit.SECONDS);
            try {
                return call.apply(stub);
            } catch (StatusRuntimeException e) {
                throw failure(e);
            }
        }

        public BindingPlan bind(String address, Integer group, boolean dryRun) {
            BindRequest.Builder b = BindRequest.newBuilder().setDryRun(dryRun);
            if (address != null) b.setAddress(address);
            if (group != null) b.setGroup(group);
            return plan(ask(s -> s.bind(b.build())));
        }

        public BindingPlan release(String address, Integer group, boolean restore, boolean dryRun) {
            ReleaseBindingRequest.Builder b = ReleaseBindingRequest.newBuilder().setDryRun(dryRun).setRestoreDriver(restore);
            if (address != null) b.setAddress(address);
            if (group != null) b.setGroup(group);
            return plan(ask(s -> s.release(b.build())));
        }

        public Collection<Journal.Owned> status(boolean reconcile, List<String> reconciled) {
            var s = ask(stub -> stub.status(BindingStatusRequest.newBuilder().setReconcile(reconcile).build()));
            reconciled.addAll(s.getReconciledList());
            List<Journal.Owned> out = new ArrayList<>();
            for (BoundDevice d : s.getDevicesList()) {
                out.add(new Journal.Owned(PciAddress.parse(d.getAddress()), d.getGroup(), orNull(d.getOriginalDriver()),
                        orNull(d.getOriginalOverride()), orNull(d.getSince())));
            }
            return out;
        }

        public String path() {
            return "(via the daemon at " + sock + ")";
        }

        public void close() {
            channel.shutdownNow();
            try {
                channel.awaitTermination(2, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }

        private static BindingPlan plan(io.vfiobroker.api.v1.BindingPlan p) {
            List<BindingPlan.Member> members = new ArrayList<>();
            for (PlannedMember m : p.getMembersList()) {
                members.add(new BindingPlan.Member(PciAddress.parse(m.getAddress()), orNull(m.getDriver()), orNull(m.getDriverOverride()), m.getAction()));
            }
            List<SysfsStep> steps = new ArrayList<>();
            for (SysfsWrite s : p.getStepsList()) steps.add(new SysfsStep(PciAddress.parse(s.getDevice()), s.getAction(), s.getPath(), s.getValue()));
            return new BindingPlan(p.getOperation(), p.getGroup(), p.getRequested().isEmpty() ? null : PciAddress.parse(p.getRequested()),
                    members, steps, p.getRefusalsList(), p.getDriverStatus());
        }

        private static String orNull(String s) {
            return s == null || s.isEmpty() ? null : s;
        }
    }

    /** The path taken: first line of the text output; on stderr with --json, so stdout stays JSON. */
    void announce(PrintWriter out, PrintWriter err, Bindings b) {
        (json ? err : out).println(b.path());
        (json ? err : out).flush();
    }

    void print(PrintWriter out, BindingPlan plan, boolean dryRun) {
        if (json) {
            out.println(DomainJson.mapper().writeValueAsString(plan));
            out.flush();
            return;
        }
        out.printf("%s IOMMU group %d%s%n", dryRun ? "would " + plan.operation() : plan.operation(), plan.group(),
                dryRun ? " (dry run: nothing written)" : ": done");
        Table t = new Table("DEVICE", "DRIVER NOW", "ACTION");
        for (BindingPlan.Member m : plan.members()) t.row(m.address(), m.driver(), m.action());
        t.print(out);
        if (dryRun) {
            out.println(plan.driverStatus());
            for (SysfsStep s : plan.steps()) out.println("  " + s);
            if (plan.refused()) {
                out.println("REFUSED:");
                for (String r : plan.refusals()) out.println("  " + r);
            }
        }
        out.flush();
    }
}
