package io.vfiobroker.dra;

import io.grpc.ManagedChannel;
import io.vfiobroker.api.dra.v1.Claim;
import io.vfiobroker.api.dra.v1.DRAPluginGrpc;
import io.vfiobroker.api.dra.v1.NodePrepareResourceResponse;
import io.vfiobroker.api.dra.v1.NodePrepareResourcesRequest;
import io.vfiobroker.api.dra.v1.NodeUnprepareResourceResponse;
import io.vfiobroker.api.dra.v1.NodeUnprepareResourcesRequest;
import io.vfiobroker.api.pluginregistration.v1.InfoRequest;
import io.vfiobroker.api.pluginregistration.v1.PluginInfo;
import io.vfiobroker.api.pluginregistration.v1.RegistrationGrpc;
import io.vfiobroker.api.pluginregistration.v1.RegistrationStatus;
import io.vfiobroker.nodeplugin.UnixGrpc;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The kubelet's side of DRA over real Unix sockets and the real protos: its plugin watcher finds a socket in
 * plugins_registry, asks GetInfo, acknowledges with NotifyRegistrationStatus, then dials the endpoint it was given
 * (a node path, resolved below the test's host root as a chrooted kubelet would).
 */
final class FakeDraKubelet implements AutoCloseable {

    final Path root;
    final Path registry;
    private final UnixGrpc grpc = new UnixGrpc(1);
    private final List<ManagedChannel> channels = new ArrayList<>();
    PluginInfo info;
    private ManagedChannel plugin;

    FakeDraKubelet(Path root) {
        this.root = root;
        this.registry = root.resolve("var/lib/kubelet/plugins_registry");
    }

    /** Waits for a registration socket, as the kubelet's inotify watch would see it, and registers the plugin. */
    PluginInfo register() throws InterruptedException {
        Path sock = null;
        for (int i = 0; i < 150 && sock == null; i++) {
            if (Files.isDirectory(registry)) {
                try (var s = Files.list(registry)) {
                    sock = s.filter(p -> !p.getFileName().toString().startsWith(".")).filter(p -> p.toString().endsWith("-reg.sock"))
                            .findFirst().orElse(null);
                } catch (java.io.IOException ignored) {
                    // listed again next round
                }
            }
            if (sock == null) Thread.sleep(100);
        }
        if (sock == null) throw new AssertionError("no registration socket in " + registry + " within 15 s");
        ManagedChannel ch = open(sock);
        var reg = RegistrationGrpc.newBlockingStub(ch).withDeadlineAfter(15, TimeUnit.SECONDS);
        info = reg.getInfo(InfoRequest.getDefaultInstance());
        boolean ok = info.getType().equals("DRAPlugin") && info.getSupportedVersionsList().contains("v1.DRAPlugin");
        reg.notifyRegistrationStatus(RegistrationStatus.newBuilder().setPluginRegistered(ok)
                .setError(ok ? "" : "unsupported plugin " + info).build());
        plugin = open(root.resolve(info.getEndpoint().replaceFirst("^/+", "")));
        return info;
    }

    ManagedChannel plugin() {
        return plugin;
    }

    private ManagedChannel open(Path sock) {
        ManagedChannel ch = grpc.connect(sock);
        channels.add(ch);
        return ch;
    }

    static Claim claim(String namespace, String name, String uid) {
        return Claim.newBuilder().setNamespace(namespace).setName(name).setUid(uid).build();
    }

    NodePrepareResourceResponse prepare(Claim c) {
        var r = DRAPluginGrpc.newBlockingStub(plugin).withDeadlineAfter(30, TimeUnit.SECONDS)
                .nodePrepareResources(NodePrepareResourcesRequest.newBuilder().addClaims(c).build());
        if (!r.getClaimsMap().containsKey(c.getUid())) throw new AssertionError("no answer for claim " + c.getUid() + ": " + r);
        return r.getClaimsMap().get(c.getUid());
    }

    NodeUnprepareResourceResponse unprepare(Claim c) {
        var r = DRAPluginGrpc.newBlockingStub(plugin).withDeadlineAfter(30, TimeUnit.SECONDS)
                .nodeUnprepareResources(NodeUnprepareResourcesRequest.newBuilder().addClaims(c).build());
        if (!r.getClaimsMap().containsKey(c.getUid())) throw new AssertionError("no answer for claim " + c.getUid() + ": " + r);
        return r.getClaimsMap().get(c.getUid());
    }

    @Override
    public void close() {
        channels.forEach(ManagedChannel::shutdownNow);
        grpc.close();
    }
}
