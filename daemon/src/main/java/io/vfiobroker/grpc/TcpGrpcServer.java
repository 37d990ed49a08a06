package io.vfiobroker.grpc;

import io.grpc.BindableService;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContextBuilder;
import io.vfiobroker.authz.BearerTokens;
import io.vfiobroker.lease.Caller;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The optional TCP listener for remote admins: TLS always, and every call authenticated by a client certificate
 * the trust store vouches for or by a bearer token from the token file. Remote callers are admins with no
 * process behind them, so they cannot Acquire (fds only travel over the local fd socket).
 */
public final class TcpGrpcServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TcpGrpcServer.class);
    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    /**
     * @param keyStore   PKCS12 with the server's key and certificate chain (required)
     * @param trustStore PKCS12 of CA certificates whose client certificates are admins; null = no client certs
     * @param tokenFile  bearer tokens, one per line; null = no tokens
     */
    public record Settings(String address, int port, Path keyStore, char[] keyStorePassword, Path trustStore, char[] trustStorePassword,
                           Path tokenFile) {
    }

    private final Server server;
    private final HealthStatusManager health = new HealthStatusManager();

    public TcpGrpcServer(Settings s, List<BindableService> services, List<ServerInterceptor> interceptors) throws IOException {
        if (s.keyStore() == null) throw new IllegalStateException("vfio-broker.grpc.tcp.key-store is required: the TCP listener never runs without TLS");
        BearerTokens tokens = BearerTokens.load(s.tokenFile());
        if (s.trustStore() == null && tokens.isEmpty()) {
            throw new IllegalStateException("the TCP listener needs vfio-broker.grpc.tcp.trust-store (client certificates) or "
                    + "vfio-broker.grpc.tcp.token-file (bearer tokens): it would accept nobody");
        }
        SslContextBuilder ssl;
        try {
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(load(s.keyStore(), s.keyStorePassword()), s.keyStorePassword());
            ssl = GrpcSslContexts.configure(SslContextBuilder.forServer(kmf));
            if (s.trustStore() != null) {
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(load(s.trustStore(), s.trustStorePassword()));
                // OPTIONAL: a token holder need not have a certificate; one that presents a bad certificate fails the handshake.
                ssl.trustManager(tmf).clientAuth(ClientAuth.OPTIONAL);
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot set up TLS for the TCP listener: " + e.getMessage(), e);
        }
        List<ServerInterceptor> chain = new ArrayList<>(interceptors);
        chain.add(new Authenticator(tokens, s.trustStore() != null));
        NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress(s.address(), s.port()))
                .sslContext(ssl.build())
                .maxInboundMessageSize(64 * 1024)
                .addService(health.getHealthService());
        for (BindableService svc : services) b.addService(ServerInterceptors.intercept(svc, chain));
        this.server = b.build().start();
        log.info("event=grpc-tcp-listening address={} port={} client-certs={} tokens={}", s.address(), port(), s.trustStore() != null, tokens.size());
    }

    public int port() {
        return server.getPort();
    }

    private static KeyStore load(Path p, char[] password) throws IOException, GeneralSecurityException {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(p)) {
            ks.load(in, password);
        }
        return ks;
    }

    /** Client certificate or bearer token, else UNAUTHENTICATED; Acquire is refused for remote callers. */
    static final class Authenticator implements ServerInterceptor {
        private final BearerTokens tokens;
        private final boolean certs;

        Authenticator(BearerTokens tokens, boolean certs) {
            this.tokens = tokens;
            this.certs = certs;
        }

        @Override
        public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
            String who = certs ? certificateSubject(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION)) : null;
            if (who == null) who = token(headers.get(AUTHORIZATION));
            if (who == null) {
                call.close(GrpcErrors.error(Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED",
                        "the TCP listener needs a client certificate or an 'authorization: Bearer <token>' header").getStatus(), new Metadata());
                return new ServerCall.Listener<>() {
                };
            }
            if (call.getMethodDescriptor().getFullMethodName().equals("vfiobroker.v1.Leases/Acquire")) {
                call.close(Status.PERMISSION_DENIED.withDescription("Acquire needs a local process: use the Unix socket api.sock"), new Metadata());
                return new ServerCall.Listener<>() {
                };
            }
            // No process behind a remote admin: pid -1 so nothing is ever prlimit'ed or watched for it.
            Context ctx = Context.current().withValue(CallerInterceptor.CALLER, new Caller(-1, 0, 0)).withValue(Authz.REMOTE_ADMIN, who);
            return Contexts.interceptCall(ctx, call, headers, next);
        }

        private static String certificateSubject(SSLSession session) {
            if (session == null) return null;
            try {
                // The handshake already checked the chain against the trust store.
                return session.getPeerCertificates()[0] instanceof X509Certificate x ? "cert " + x.getSubjectX500Principal().getName() : null;
            } catch (SSLPeerUnverifiedException e) {
                return null;
            }
        }

        private String token(String header) {
            return tokens.accepts(header) ? "token" : null;
        }
    }

    @Override
    public void close() {
        health.enterTerminalState();
        server.shutdownNow();
        try {
            server.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
