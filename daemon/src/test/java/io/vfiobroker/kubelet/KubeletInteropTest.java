package io.vfiobroker.kubelet;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.api.deviceplugin.v1beta1.DevicePluginOptions;
import io.vfiobroker.api.deviceplugin.v1beta1.RegisterRequest;
import io.vfiobroker.api.deviceplugin.v1beta1.RegistrationGrpc;
import io.vfiobroker.binding.BindingRules;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Device-plugin registration against a kubelet stand-in that is not grpc-java: gRPC framed by hand on Node's http2,
 * i.e. nghttp2, which validates {@code :authority} as the kubelet's Go stack does and refuses grpc-java's default (the
 * socket path). (Debian's python3-grpcio 1.51 accepts that authority, so it would not catch the old behaviour.)
 * node is installed by {@code bin/install-deps}; without it this test fails rather than skips.
 */
class KubeletInteropTest {

    static final Path NODE = Path.of("/usr/bin/node");
    static final String RESOURCE = "vfio-broker.io/x710-vf";

    @TempDir
    Path dir;
    Path pluginDir;
    Process kubelet;
    final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    KubeletPlugins plugins;

    @BeforeEach
    void startPythonKubelet() throws Exception {
        Path root = HostTreeGenerator.generate(HostSpec.sriovScale(1, 2), dir.resolve("host"));
        pluginDir = root.resolve("var/lib/kubelet/device-plugins");
        Path script = dir.resolve("h2_kubelet.js");
        try (var in = getClass().getResourceAsStream("/kubelet/h2_kubelet.js")) {
            Files.copy(in, script);
        }
        assertThat(NODE).as("node (bin/install-deps installs nodejs) is needed").isExecutable();
        kubelet = new ProcessBuilder(NODE.toString(), script.toString(), pluginDir.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(kubelet.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) lines.add(l);
            } catch (java.io.IOException ignored) {
            }
        }, "h2-kubelet-out");
        reader.setDaemon(true);
        reader.start();
        assertThat(next()).isEqualTo("ready");
    }

    @AfterEach
    void stop() throws Exception {
        if (plugins != null) plugins.close();
        if (kubelet != null) {
            kubelet.getOutputStream().close();
            if (!kubelet.waitFor(5, TimeUnit.SECONDS)) kubelet.destroyForcibly();
        }
    }

    private String next() throws InterruptedException {
        String l = lines.poll(20, TimeUnit.SECONDS);
        if (l == null) throw new AssertionError("the h2 kubelet said nothing within 20 s");
        return l;
    }

    @Test
    void thePluginRegistersWithAnNghttp2KubeletAndTheKubeletCanCallItBack() throws Exception {
        Path root = pluginDir.getParent().getParent().getParent().getParent();
        SimulatedKernelHost host = new SimulatedKernelHost(root);
        InventoryScanner scanner = new InventoryScanner(host, PciIds.empty());
        BindingService binding = new BindingService(host, scanner, new Journal(dir.resolve("state")), () -> BindingRules.DEFAULT);
        KubeletProperties props = new KubeletProperties(true, null, null, null, null, null, Duration.ofHours(1),
                List.of(KubeletPluginTest.x710(null, null)));
        plugins = new KubeletPlugins(props, host, new DeviceProvisioning(scanner, binding, (w, d, i) -> Optional.empty()), (r, m, d) -> Map.of());
        plugins.start();

        String reg = next();
        assertThat(reg).startsWith("register ");
        RegisterRequest r = RegisterRequest.parseFrom(HexFormat.of().parseHex(reg.substring("register ".length())));
        assertThat(r.getResourceName()).isEqualTo(RESOURCE);
        assertThat(r.getVersion()).isEqualTo(KubeletPlugins.API_VERSION);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!plugins.registered(RESOURCE) && System.nanoTime() < deadline) Thread.sleep(20);
        assertThat(plugins.registered(RESOURCE)).as("the plugin saw its Register succeed").isTrue();

        String back = next();
        assertThat(back).startsWith("options ");
        DevicePluginOptions o = DevicePluginOptions.parseFrom(HexFormat.of().parseHex(back.substring("options ".length())));
        assertThat(o.getGetPreferredAllocationAvailable()).isTrue();
    }

    /** The control: this server really is strict, so the test above would catch a channel that sends the path. */
    @Test
    void theSameServerRefusesGrpcJavasDefaultAuthority() {
        var group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        ManagedChannel ch = NettyChannelBuilder.forAddress(new DomainSocketAddress(pluginDir.resolve("kubelet.sock").toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
        try {
            assertThatThrownBy(() -> RegistrationGrpc.newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS)
                    .register(RegisterRequest.newBuilder().setVersion("v1beta1").setEndpoint("x.sock").setResourceName("a/b").build()))
                    .isInstanceOf(StatusRuntimeException.class);
            assertThat(lines).as("the request never reached the handler").isEmpty();
        } finally {
            ch.shutdownNow();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }
}
