package io.vfiobroker.kubelet;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.stub.StreamObserver;
import io.vfiobroker.api.deviceplugin.v1beta1.DevicePluginGrpc;
import io.vfiobroker.api.deviceplugin.v1beta1.Empty;
import io.vfiobroker.api.deviceplugin.v1beta1.ListAndWatchResponse;
import io.vfiobroker.api.deviceplugin.v1beta1.RegisterRequest;
import io.vfiobroker.api.deviceplugin.v1beta1.RegistrationGrpc;
import io.vfiobroker.nodeplugin.UnixGrpc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The kubelet's side of the device-plugin protocol, over real Unix sockets with the real v1beta1 messages:
 * a Registration server on kubelet.sock, and a client of each plugin's endpoint.
 */
final class FakeKubelet implements AutoCloseable {

    final Path dir;
    final BlockingQueue<RegisterRequest> registrations = new LinkedBlockingQueue<>();
    private final UnixGrpc grpc = new UnixGrpc(1);
    private Server server;

    FakeKubelet(Path dir) {
        this.dir = dir;
    }

    /** Starts like a kubelet does: wipe the plugins' sockets, then create kubelet.sock. */
    FakeKubelet start() throws IOException {
        Files.createDirectories(dir);
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) if (p.getFileName().toString().endsWith(".sock")) Files.deleteIfExists(p);
        }
        server = grpc.serve(dir.resolve("kubelet.sock"), new RegistrationGrpc.RegistrationImplBase() {
            @Override
            public void register(RegisterRequest request, StreamObserver<Empty> out) {
                registrations.add(request);
                out.onNext(Empty.getDefaultInstance());
                out.onCompleted();
            }
        });
        return this;
    }

    void stop() throws InterruptedException {
        if (server != null) {
            server.shutdownNow();
            server.awaitTermination(5, TimeUnit.SECONDS);
            server = null;
        }
    }

    RegisterRequest nextRegistration() throws InterruptedException {
        RegisterRequest r = registrations.poll(15, TimeUnit.SECONDS);
        if (r == null) throw new AssertionError("no registration within 15 s");
        return r;
    }

    ManagedChannel plugin(String endpoint) {
        return grpc.connect(dir.resolve(endpoint));
    }

    DevicePluginGrpc.DevicePluginBlockingStub blocking(ManagedChannel ch) {
        return DevicePluginGrpc.newBlockingStub(ch).withDeadlineAfter(15, TimeUnit.SECONDS);
    }

    /** Opens ListAndWatch; every list the plugin sends lands in the queue. */
    BlockingQueue<ListAndWatchResponse> watch(ManagedChannel ch) {
        BlockingQueue<ListAndWatchResponse> q = new LinkedBlockingQueue<>();
        DevicePluginGrpc.newStub(ch).listAndWatch(Empty.getDefaultInstance(), new StreamObserver<>() {
            public void onNext(ListAndWatchResponse v) { q.add(v); }
            public void onError(Throwable t) { }
            public void onCompleted() { }
        });
        return q;
    }

    static ListAndWatchResponse next(BlockingQueue<ListAndWatchResponse> q) throws InterruptedException {
        ListAndWatchResponse r = q.poll(15, TimeUnit.SECONDS);
        if (r == null) throw new AssertionError("no ListAndWatch message within 15 s");
        return r;
    }

    @Override
    public void close() throws InterruptedException {
        stop();
        grpc.close();
    }
}
