package io.vfiobroker.controlplane;

import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.vfiobroker.api.v1.Event;
import io.vfiobroker.api.v1.EventsGrpc;
import io.vfiobroker.api.v1.WatchRequest;
import io.vfiobroker.events.BrokerEvent;
import io.vfiobroker.events.EventBus;
import io.vfiobroker.grpc.Authz;
import io.vfiobroker.grpc.EventsGrpcService;
import io.vfiobroker.grpc.GrpcServer;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.lease.ChildClassPath;
import io.vfiobroker.quota.QuotaProperties;
import io.vfiobroker.quota.Quotas;
import io.vfiobroker.quota.UidQuota;
import io.vfiobroker.web.EventsController;
import io.vfiobroker.web.WebCaller;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.web.server.ResponseStatusException;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Open streams per uid: a uid at its cap is refused with the cap and its uid named, and an admin still gets through. */
class StreamQuotaTest {

    /** Where the web guard puts the identified caller (WebCaller's request attribute). */
    static final String WEB_CALLER = WebCaller.class.getName();

    Path dir;
    GrpcServer server;
    Process child;

    @AfterEach
    void stop() throws Exception {
        if (child != null) {
            child.destroyForcibly();
            child.waitFor(10, TimeUnit.SECONDS);
        }
        if (server != null) server.close();
        if (dir != null) ControlPlane.deleteTree(dir);
    }

    private static void eventually(BooleanSupplier cond, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("not within 30 s: " + what);
            Thread.sleep(20);
        }
    }

    @Test
    void aUidAtItsStreamCapIsRefusedWhileRootStillWatches() throws Exception {
        dir = Files.createTempDirectory(Path.of("/tmp"), "vbsq-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        EventBus bus = new EventBus();
        UidQuota streams = new UidQuota("event streams", "vfio-broker.quota.streams", 3, 6, 2);
        Path sock = dir.resolve("api.sock");
        server = new GrpcServer(sock, List.<BindableService>of(new EventsGrpcService(bus, Authz.rootOnly(), streams)));

        Path cp = ChildClassPath.worldReadable();
        child = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
                "-Dlogback.configurationFile=vfio-broker-cli-logback.xml", "-cp", cp + "/*:" + cp + "/classes",
                StreamHogMain.class.getName(), sock.toString(), "5").redirectError(ProcessBuilder.Redirect.INHERIT).start();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) lines.add(l);
            } catch (IOException ignored) {
                // killed
            }
        });
        reader.setDaemon(true);
        reader.start();

        List<String> refusals = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (refusals.size() < 2 && System.nanoTime() < deadline) {
            String l = lines.poll(1, TimeUnit.SECONDS);
            if (l != null && l.startsWith("refused")) refusals.add(l);
        }
        assertThat(refusals).hasSize(2).allSatisfy(l -> assertThat(l).startsWith("refused RESOURCE_EXHAUSTED")
                .contains("uid 65534 already has 3 open event streams").contains("vfio-broker.quota.streams.per-uid=3"));
        eventually(() -> streams.open(65534) == 3, "the three streams within the cap are open");

        // Root (this JVM) is an admin: three more streams fit, the last two in the reserve nobody else may use.
        EventLoopGroup[] g = new EventLoopGroup[1];
        ManagedChannel ch = ControlPlane.channel(sock, g);
        try {
            List<BlockingQueue<Object>> got = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                BlockingQueue<Object> q = new LinkedBlockingQueue<>();
                got.add(q);
                EventsGrpc.newStub(ch).watch(WatchRequest.getDefaultInstance(), new StreamObserver<>() {
                    @Override
                    public void onNext(Event e) {
                        q.add(e);
                    }

                    @Override
                    public void onError(Throwable t) {
                        q.add(t);
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
            }
            eventually(() -> streams.openTotal() == 6, "root's three streams are open");
            bus.publish(new BrokerEvent.BindingChanged("bind", "bind", 7, null, List.of("0000:07:00.0"), true, null));
            for (BlockingQueue<Object> q : got) assertThat(q.poll(30, TimeUnit.SECONDS)).isInstanceOf(Event.class);

            // The hostile uid's streams end with its process: their slots come back.
            child.destroyForcibly();
            eventually(() -> streams.open(65534) == 0, "the killed client's streams are closed");
            assertThat(streams.openTotal()).isEqualTo(3);
        } finally {
            ch.shutdownNow();
            g[0].shutdownGracefully();
        }
    }

    @Test
    void sseCountsTheHttpCallerAnd429sOverTheCapWithAReserveForAdmins() throws Exception {
        Quotas quotas = new Quotas(new QuotaProperties(null, new QuotaProperties.Streams(1, 3, 1), null));
        EventsController sse = new EventsController(new EventBus(), quotas);
        MockHttpServletRequest alice = new MockHttpServletRequest();
        alice.setAttribute(WEB_CALLER, new WebCaller(new Caller(10, 1000, 1000), false, "unix socket"));
        var first = sse.events("", alice);
        assertThatThrownBy(() -> sse.events("", alice)).isInstanceOfSatisfying(ResponseStatusException.class, e -> {
            assertThat(e.getStatusCode()).isEqualTo(HttpStatus.TOO_MANY_REQUESTS);
            assertThat(e.getReason()).contains("uid 1000").contains("vfio-broker.quota.streams.per-uid=1");
        });
        MockHttpServletRequest bob = new MockHttpServletRequest();
        bob.setAttribute(WEB_CALLER, new WebCaller(new Caller(11, 1001, 1001), false, "unix socket"));
        var second = sse.events("", bob);
        // Two of three taken, one reserved for admins: a third user is refused, root is not.
        MockHttpServletRequest carol = new MockHttpServletRequest();
        carol.setAttribute(WEB_CALLER, new WebCaller(new Caller(12, 1002, 1002), false, "unix socket"));
        assertThatThrownBy(() -> sse.events("", carol)).isInstanceOfSatisfying(ResponseStatusException.class,
                e -> assertThat(e.getStatusCode()).isEqualTo(HttpStatus.TOO_MANY_REQUESTS));
        MockHttpServletRequest root = new MockHttpServletRequest();
        root.setAttribute(WEB_CALLER, new WebCaller(new Caller(1, 0, 0), true, "unix socket"));
        var third = sse.events("", root);
        assertThat(quotas.streams().openTotal()).isEqualTo(3);
        first.complete();
        second.complete();
        third.complete();
        eventually(() -> quotas.streams().openTotal() == 0, "completed streams give their slots back");
    }
}
