package io.vfiobroker.controlplane;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.netty.handler.ssl.SslContextBuilder;
import io.vfiobroker.api.v1.AcquireRequest;
import io.vfiobroker.api.v1.InventoryGrpc;
import io.vfiobroker.api.v1.LeasesGrpc;
import io.vfiobroker.api.v1.ListDevicesRequest;
import io.vfiobroker.api.v1.ListLeasesRequest;
import io.vfiobroker.api.v1.ReleaseRequest;
import io.vfiobroker.config.ControlPlaneConfiguration;
import io.vfiobroker.grpc.Authz;
import io.vfiobroker.grpc.EventsGrpcService;
import io.vfiobroker.grpc.GrpcMetricsInterceptor;
import io.vfiobroker.grpc.InventoryGrpcService;
import io.vfiobroker.grpc.TcpGrpcServer;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.lease.Lease;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import javax.net.ssl.KeyManagerFactory;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** The TCP listener with TLS: certificates made by keytool for this test; a client certificate or a bearer token, or nothing. */
class TcpTlsTest {

    static final String TOKEN = "s3cret-token-for-tests-0123456789";
    static final char[] PW = "changeit".toCharArray();
    static ControlPlane cp;
    static TcpGrpcServer server;
    static Path dir;

    static void keytool(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(out).isZero();
    }

    @BeforeAll
    static void start() throws Exception {
        cp = new ControlPlane();
        dir = cp.dir.resolve("tls");
        Files.createDirectories(dir);
        for (String who : List.of("server", "client")) {
            keytool("-genkeypair", "-alias", who, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + who, "-validity", "2",
                    "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-keystore", dir.resolve(who + ".p12").toString(), "-storetype", "PKCS12",
                    "-storepass", "changeit");
            keytool("-exportcert", "-rfc", "-alias", who, "-keystore", dir.resolve(who + ".p12").toString(), "-storepass", "changeit",
                    "-file", dir.resolve(who + ".pem").toString());
        }
        keytool("-importcert", "-noprompt", "-alias", "client", "-file", dir.resolve("client.pem").toString(), "-keystore",
                dir.resolve("trust.p12").toString(), "-storetype", "PKCS12", "-storepass", "changeit");
        Files.writeString(dir.resolve("tokens"), "# admins\n" + TOKEN + "\n");
        Authz authz = Authz.rootOnly();
        ControlPlaneConfiguration.GrpcServices services = new ControlPlaneConfiguration.GrpcServices(authz,
                List.of(new InventoryGrpcService(cp.core, cp.leases, authz), new EventsGrpcService(cp.bus, authz)), new GrpcMetricsInterceptor(cp.registry));
        server = new TcpGrpcServer(new TcpGrpcServer.Settings("127.0.0.1", 0, dir.resolve("server.p12"), PW, dir.resolve("trust.p12"), PW,
                dir.resolve("tokens")), services.withLeases(cp.leases, Path.of("/nonexistent")), List.of());
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        cp.close();
    }

    static ManagedChannel channel(boolean clientCert) throws Exception {
        SslContextBuilder ssl = GrpcSslContexts.forClient().trustManager(dir.resolve("server.pem").toFile());
        if (clientCert) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(dir.resolve("client.p12"))) {
                ks.load(in, PW);
            }
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, PW);
            ssl.keyManager(kmf);
        }
        return NettyChannelBuilder.forAddress("127.0.0.1", server.port()).sslContext(ssl.build()).build();
    }

    static Metadata bearer(String token) {
        Metadata m = new Metadata();
        m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return m;
    }

    @Test
    void withoutCredentialsEveryCallIsUnauthenticated() throws Exception {
        ManagedChannel ch = channel(false);
        try {
            StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                    () -> InventoryGrpc.newBlockingStub(ch).listDevices(ListDevicesRequest.getDefaultInstance()));
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
            StatusRuntimeException wrong = catchThrowableOfType(StatusRuntimeException.class,
                    () -> InventoryGrpc.newBlockingStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer("not-the-token-at-all")))
                            .listDevices(ListDevicesRequest.getDefaultInstance()));
            assertThat(wrong.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        } finally {
            ch.shutdownNow().awaitTermination(2, TimeUnit.SECONDS);
        }
    }

    @Test
    void aBearerTokenMakesAnAdminWhoMayRevokeButNotAcquire() throws Exception {
        Lease l = cp.leases.acquire(new Caller((int) ProcessHandle.current().pid(), 0, 0), List.of("0000:06:00.0"), null, 0).getKey();
        ManagedChannel ch = channel(false);
        try {
            LeasesGrpc.LeasesBlockingStub leases = LeasesGrpc.newBlockingStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(TOKEN)));
            assertThat(leases.list(ListLeasesRequest.getDefaultInstance()).getLeasesCount()).isEqualTo(1);
            StatusRuntimeException acq = catchThrowableOfType(StatusRuntimeException.class,
                    () -> leases.acquire(AcquireRequest.newBuilder().addDevices("0000:07:02.0").build()));
            assertThat(acq.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(leases.release(ReleaseRequest.newBuilder().setLeaseId(l.id()).build()).getEndReason()).isEqualTo("revoked by admin");
        } finally {
            ch.shutdownNow().awaitTermination(2, TimeUnit.SECONDS);
        }
    }

    @Test
    void aClientCertificateFromTheTrustStoreIsEnough() throws Exception {
        ManagedChannel ch = channel(true);
        try {
            assertThat(InventoryGrpc.newBlockingStub(ch).listDevices(ListDevicesRequest.newBuilder().setVendorDevice("8086:154c").build())
                    .getDevicesCount()).isEqualTo(8);
        } finally {
            ch.shutdownNow().awaitTermination(2, TimeUnit.SECONDS);
        }
    }
}
