package io.vfiobroker.dra;

import io.vfiobroker.host.SysfsHost;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.vfiobroker.api.dra.v1.Claim;
import io.vfiobroker.api.dra.v1.DRAPluginGrpc;
import io.vfiobroker.api.dra.v1.Device;
import io.vfiobroker.api.dra.v1.NodePrepareResourceResponse;
import io.vfiobroker.api.dra.v1.NodePrepareResourcesRequest;
import io.vfiobroker.api.dra.v1.NodePrepareResourcesResponse;
import io.vfiobroker.api.dra.v1.NodeUnprepareResourceResponse;
import io.vfiobroker.api.dra.v1.NodeUnprepareResourcesRequest;
import io.vfiobroker.api.dra.v1.NodeUnprepareResourcesResponse;
import io.vfiobroker.api.pluginregistration.v1.InfoRequest;
import io.vfiobroker.api.pluginregistration.v1.PluginInfo;
import io.vfiobroker.api.pluginregistration.v1.RegistrationGrpc;
import io.vfiobroker.api.pluginregistration.v1.RegistrationStatus;
import io.vfiobroker.api.pluginregistration.v1.RegistrationStatusResponse;
import io.vfiobroker.nodeplugin.UnixGrpc;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.function.Function;

/**
 * The kubelet's view of the DRA driver: a pluginregistration/v1 socket in plugins_registry (type "DRAPlugin") and
 * the DRAPlugin service, v1 and v1beta1, on {@code plugins/<driver>/dra.sock}. The kubelet's plugin watcher finds
 * the registration socket by itself, so nothing is dialled from here.
 */
public final class DraPlugin implements AutoCloseable {

    public static final String PLUGIN_TYPE = "DRAPlugin";
    public static final List<String> SUPPORTED_VERSIONS = List.of("v1.DRAPlugin", "v1beta1.DRAPlugin");
    private static final Logger log = LoggerFactory.getLogger(DraPlugin.class);

    private final DraProperties props;
    private final SysfsHost host;
    private final DraDriver driver;
    private UnixGrpc grpc;
    private Server registration;
    private Server service;
    private volatile Boolean registered;
    private volatile String registrationError;

    /** @param host only where its sockets live below the host root */
    public DraPlugin(DraProperties props, SysfsHost host, DraDriver driver) {
        this.props = props;
        this.host = host;
        this.driver = driver;
    }

    public Path registrationSocket() {
        return host.daemonPath(props.registrationSocket());
    }

    public Path serviceSocket() {
        return host.daemonPath(props.draSocket());
    }

    /** What the kubelet last said in NotifyRegistrationStatus: null before it spoke. */
    public Boolean registered() {
        return registered;
    }

    public String registrationError() {
        return registrationError;
    }

    public synchronized void start() {
        if (grpc != null) return;
        driver.restore();
        grpc = new UnixGrpc(1);
        try {
            // The service first: the kubelet dials the endpoint as soon as it sees the registration socket.
            service = bind(serviceSocket(), new V1(), new V1beta1());
            registration = bind(registrationSocket(), new Registration());
        } catch (IOException e) {
            close();
            throw new UncheckedIOException("cannot serve the DRA plugin sockets: " + e.getMessage(), e);
        }
        log.info("event=dra-plugin-started driver={} registration={} endpoint={}", props.driverName(), registrationSocket(), serviceSocket());
    }

    private Server bind(Path sock, io.grpc.BindableService... services) throws IOException {
        Files.createDirectories(sock.getParent());
        // Bound under a private dot-name, then renamed into place: the plugin watcher ignores dot-files, so it
        // never sees a socket nobody listens on yet.
        Path tmp = sock.resolveSibling("." + sock.getFileName());
        // sun_path holds 107 bytes and a NUL: say so rather than let bind(2) answer "File name too long".
        if (tmp.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 107) {
            throw new IOException(tmp + " is longer than a Unix socket path may be (107 bytes): shorten the host root or driver name");
        }
        Files.deleteIfExists(tmp);
        Server s = grpc.serve(tmp, services);
        Files.move(tmp, sock, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return s;
    }

    @Override
    public synchronized void close() {
        for (Server s : new Server[]{registration, service}) {
            if (s != null) UnixGrpc.stop(s);
        }
        registration = null;
        service = null;
        try {
            // The registration socket goes: the kubelet then deregisters the driver.
            Files.deleteIfExists(registrationSocket());
            Files.deleteIfExists(serviceSocket());
        } catch (IOException ignored) {
            // the kubelet cleans plugins_registry of dead sockets on its own
        }
        if (grpc != null) grpc.close();
        grpc = null;
    }

    // ---- the wire ---------------------------------------------------------------------------------------------

    NodePrepareResourcesResponse prepare(NodePrepareResourcesRequest req) {
        NodePrepareResourcesResponse.Builder out = NodePrepareResourcesResponse.newBuilder();
        for (Claim c : req.getClaimsList()) {
            NodePrepareResourceResponse.Builder r = NodePrepareResourceResponse.newBuilder();
            try {
                for (PreparedClaims.PreparedDevice d : driver.prepare(ref(c))) {
                    r.addDevices(Device.newBuilder().addRequestNames(d.request()).setPoolName(d.pool()).setDeviceName(d.device())
                            .addAllCdiDeviceIds(d.cdiIds()));
                }
            } catch (RuntimeException e) {
                log.warn("event=dra-prepare-failed claim={}/{} uid={} error=\"{}\"", c.getNamespace(), c.getName(), c.getUid(), e.getMessage());
                r = NodePrepareResourceResponse.newBuilder().setError(e.getMessage() == null ? e.toString() : e.getMessage());
            }
            out.putClaims(c.getUid(), r.build());
        }
        return out.build();
    }

    NodeUnprepareResourcesResponse unprepare(NodeUnprepareResourcesRequest req) {
        NodeUnprepareResourcesResponse.Builder out = NodeUnprepareResourcesResponse.newBuilder();
        for (Claim c : req.getClaimsList()) {
            NodeUnprepareResourceResponse.Builder r = NodeUnprepareResourceResponse.newBuilder();
            try {
                driver.unprepare(ref(c));
            } catch (RuntimeException e) {
                log.warn("event=dra-unprepare-failed claim={}/{} uid={} error=\"{}\"", c.getNamespace(), c.getName(), c.getUid(), e.getMessage());
                r.setError(e.getMessage() == null ? e.toString() : e.getMessage());
            }
            out.putClaims(c.getUid(), r.build());
        }
        return out.build();
    }

    private static ClaimRef ref(Claim c) {
        if (c.getUid().isEmpty() || c.getNamespace().isEmpty() || c.getName().isEmpty()) {
            throw new DraException("claim " + c.getNamespace() + "/" + c.getName() + " (uid " + c.getUid() + "): namespace, uid and name are required");
        }
        return new ClaimRef(c.getNamespace(), c.getUid(), c.getName());
    }

    private final class Registration extends RegistrationGrpc.RegistrationImplBase {
        @Override
        public void getInfo(InfoRequest request, StreamObserver<PluginInfo> out) {
            out.onNext(PluginInfo.newBuilder().setType(PLUGIN_TYPE).setName(props.driverName())
                    .setEndpoint("/" + props.draSocket()).addAllSupportedVersions(SUPPORTED_VERSIONS).build());
            out.onCompleted();
        }

        @Override
        public void notifyRegistrationStatus(RegistrationStatus s, StreamObserver<RegistrationStatusResponse> out) {
            registered = s.getPluginRegistered();
            registrationError = s.getError();
            if (s.getPluginRegistered()) log.info("event=dra-plugin-registered driver={}", props.driverName());
            else log.warn("event=dra-plugin-registration-failed driver={} error=\"{}\"", props.driverName(), s.getError());
            out.onNext(RegistrationStatusResponse.getDefaultInstance());
            out.onCompleted();
        }
    }

    private final class V1 extends DRAPluginGrpc.DRAPluginImplBase {
        @Override
        public void nodePrepareResources(NodePrepareResourcesRequest req, StreamObserver<NodePrepareResourcesResponse> out) {
            out.onNext(prepare(req));
            out.onCompleted();
        }

        @Override
        public void nodeUnprepareResources(NodeUnprepareResourcesRequest req, StreamObserver<NodeUnprepareResourcesResponse> out) {
            out.onNext(unprepare(req));
            out.onCompleted();
        }
    }

    /** v1beta1 has the very same messages under another package: translated through the wire format. */
    private final class V1beta1 extends io.vfiobroker.api.dra.v1beta1.DRAPluginGrpc.DRAPluginImplBase {
        @Override
        public void nodePrepareResources(io.vfiobroker.api.dra.v1beta1.NodePrepareResourcesRequest req,
                                         StreamObserver<io.vfiobroker.api.dra.v1beta1.NodePrepareResourcesResponse> out) {
            viaV1(req, NodePrepareResourcesRequest.parser(), DraPlugin.this::prepare,
                    io.vfiobroker.api.dra.v1beta1.NodePrepareResourcesResponse.parser(), out);
        }

        @Override
        public void nodeUnprepareResources(io.vfiobroker.api.dra.v1beta1.NodeUnprepareResourcesRequest req,
                                           StreamObserver<io.vfiobroker.api.dra.v1beta1.NodeUnprepareResourcesResponse> out) {
            viaV1(req, NodeUnprepareResourcesRequest.parser(), DraPlugin.this::unprepare,
                    io.vfiobroker.api.dra.v1beta1.NodeUnprepareResourcesResponse.parser(), out);
        }

        /** The v1 handler on a v1beta1 request: its bytes parsed as v1, the answer's bytes parsed back as v1beta1. */
        private <Q, R> void viaV1(MessageLite req, Parser<Q> v1, Function<Q, ? extends MessageLite> handler, Parser<R> v1beta1,
                                  StreamObserver<R> out) {
            try {
                out.onNext(v1beta1.parseFrom(handler.apply(v1.parseFrom(req.toByteString())).toByteString()));
                out.onCompleted();
            } catch (InvalidProtocolBufferException e) {
                out.onError(Status.INTERNAL.withDescription(e.getMessage()).asException());
            }
        }
    }
}
