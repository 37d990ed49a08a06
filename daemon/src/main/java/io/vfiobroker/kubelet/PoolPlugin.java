package io.vfiobroker.kubelet;

import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.vfiobroker.api.deviceplugin.v1beta1.AllocateRequest;
import io.vfiobroker.api.deviceplugin.v1beta1.AllocateResponse;
import io.vfiobroker.api.deviceplugin.v1beta1.ContainerAllocateRequest;
import io.vfiobroker.api.deviceplugin.v1beta1.ContainerAllocateResponse;
import io.vfiobroker.api.deviceplugin.v1beta1.ContainerPreferredAllocationRequest;
import io.vfiobroker.api.deviceplugin.v1beta1.ContainerPreferredAllocationResponse;
import io.vfiobroker.api.deviceplugin.v1beta1.Device;
import io.vfiobroker.api.deviceplugin.v1beta1.DevicePluginGrpc;
import io.vfiobroker.api.deviceplugin.v1beta1.DevicePluginOptions;
import io.vfiobroker.api.deviceplugin.v1beta1.Empty;
import io.vfiobroker.api.deviceplugin.v1beta1.ListAndWatchResponse;
import io.vfiobroker.api.deviceplugin.v1beta1.NUMANode;
import io.vfiobroker.api.deviceplugin.v1beta1.PreStartContainerRequest;
import io.vfiobroker.api.deviceplugin.v1beta1.PreStartContainerResponse;
import io.vfiobroker.api.deviceplugin.v1beta1.PreferredAllocationRequest;
import io.vfiobroker.api.deviceplugin.v1beta1.PreferredAllocationResponse;
import io.vfiobroker.api.deviceplugin.v1beta1.TopologyInfo;
import io.vfiobroker.nodeplugin.Exposure;
import io.vfiobroker.nodeplugin.PoolConfig;
import io.vfiobroker.nodeplugin.PoolDevice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** The DevicePlugin service of one pool: its device list, the kubelet's watch streams, and the calls it answers. */
final class PoolPlugin extends DevicePluginGrpc.DevicePluginImplBase {

    private static final Logger log = LoggerFactory.getLogger(PoolPlugin.class);

    /** Allocate for one container; the manager does it, since it holds binding, policy and CDI. */
    interface Allocator {
        ContainerAllocateResponse allocate(PoolPlugin plugin, List<String> deviceIds) throws StatusException;
    }

    final PoolConfig pool;
    final String resourceName;
    final Exposure exposure;
    private final Allocator allocator;
    private final Set<ServerCallStreamObserver<ListAndWatchResponse>> watchers = ConcurrentHashMap.newKeySet();
    private volatile Map<String, PoolDevice> devices = Map.of();

    // Endpoint state, owned by the manager's watch thread.
    volatile Server server;
    volatile boolean registered;

    PoolPlugin(PoolConfig pool, String resourceName, Exposure exposure, Allocator allocator) {
        this.pool = pool;
        this.resourceName = resourceName;
        this.exposure = exposure;
        this.allocator = allocator;
    }

    String endpoint() {
        return "vfio-broker-" + pool.name() + ".sock";
    }

    Map<String, PoolDevice> devices() {
        return devices;
    }

    /** Replaces the device list; when anything the kubelet sees changed, every watch stream gets the new list. */
    synchronized boolean update(List<PoolDevice> list) {
        Map<String, PoolDevice> next = new LinkedHashMap<>();
        for (PoolDevice d : list) next.put(d.id(), d);
        if (next.equals(devices)) return false;
        Map<String, PoolDevice> before = devices;
        devices = java.util.Collections.unmodifiableMap(next); // address order, as listed
        for (PoolDevice d : list) {
            PoolDevice old = before.get(d.id());
            if (old == null || old.healthy() != d.healthy()) {
                log.info("event=device-health resource={} device={} health={}{}", resourceName, d.id(), d.health(),
                        d.healthy() ? "" : " reason=\"" + d.reason() + "\"");
            }
        }
        ListAndWatchResponse msg = listMessage(list);
        for (ServerCallStreamObserver<ListAndWatchResponse> w : watchers) send(w, msg);
        return true;
    }

    private ListAndWatchResponse listMessage(Iterable<PoolDevice> list) {
        ListAndWatchResponse.Builder b = ListAndWatchResponse.newBuilder();
        for (PoolDevice d : list) {
            Device.Builder db = Device.newBuilder().setID(d.id()).setHealth(d.health());
            // No NUMA information (-1) means no topology: the kubelet's topology manager then treats it as any node.
            if (d.numaNode() >= 0) db.setTopology(TopologyInfo.newBuilder().addNodes(NUMANode.newBuilder().setID(d.numaNode())));
            b.addDevices(db);
        }
        return b.build();
    }

    private void send(ServerCallStreamObserver<ListAndWatchResponse> w, ListAndWatchResponse msg) {
        synchronized (w) {
            try {
                if (!w.isCancelled()) w.onNext(msg);
            } catch (RuntimeException e) {
                watchers.remove(w);
                log.info("event=watch-dropped resource={} error=\"{}\"", resourceName, e.getMessage());
            }
        }
    }

    /** Ends every watch stream, so the kubelet reconnects (or, if it is gone, so nothing dangles). */
    void closeWatchers() {
        for (ServerCallStreamObserver<ListAndWatchResponse> w : watchers) {
            synchronized (w) {
                try {
                    w.onCompleted();
                } catch (RuntimeException ignored) {
                    // already cancelled by the peer
                }
            }
        }
        watchers.clear();
    }

    @Override
    public void getDevicePluginOptions(Empty request, StreamObserver<DevicePluginOptions> out) {
        out.onNext(options());
        out.onCompleted();
    }

    static DevicePluginOptions options() {
        return DevicePluginOptions.newBuilder().setPreStartRequired(false).setGetPreferredAllocationAvailable(true).build();
    }

    @Override
    public void listAndWatch(Empty request, StreamObserver<ListAndWatchResponse> out) {
        ServerCallStreamObserver<ListAndWatchResponse> w = (ServerCallStreamObserver<ListAndWatchResponse>) out;
        w.setOnCancelHandler(() -> watchers.remove(w));
        // Registered before the first send, under the update lock, so no change slips between list and watch.
        synchronized (this) {
            watchers.add(w);
            send(w, listMessage(devices.values()));
        }
        log.info("event=watch-opened resource={} devices={}", resourceName, devices.size());
    }

    @Override
    public void getPreferredAllocation(PreferredAllocationRequest request, StreamObserver<PreferredAllocationResponse> out) {
        PreferredAllocationResponse.Builder b = PreferredAllocationResponse.newBuilder();
        Map<String, PoolDevice> known = devices;
        for (ContainerPreferredAllocationRequest r : request.getContainerRequestsList()) {
            List<String> ids = PreferredAllocation.choose(r.getAvailableDeviceIDsList(), r.getMustIncludeDeviceIDsList(),
                    r.getAllocationSize(), known);
            b.addContainerResponses(ContainerPreferredAllocationResponse.newBuilder().addAllDeviceIDs(ids));
        }
        out.onNext(b.build());
        out.onCompleted();
    }

    @Override
    public void allocate(AllocateRequest request, StreamObserver<AllocateResponse> out) {
        AllocateResponse.Builder b = AllocateResponse.newBuilder();
        try {
            for (ContainerAllocateRequest r : request.getContainerRequestsList()) {
                b.addContainerResponses(allocator.allocate(this, r.getDevicesIdsList()));
            }
        } catch (StatusException e) {
            log.warn("event=allocate-refused resource={} devices={} error=\"{}\"", resourceName,
                    request.getContainerRequestsList().stream().flatMap(r -> r.getDevicesIdsList().stream()).toList(),
                    e.getStatus().getDescription());
            out.onError(e);
            return;
        } catch (RuntimeException e) {
            log.warn("event=allocate-failed resource={} error=\"{}\"", resourceName, e.toString());
            out.onError(Status.INTERNAL.withDescription(resourceName + ": allocation failed: " + e.getMessage()).asException());
            return;
        }
        out.onNext(b.build());
        out.onCompleted();
    }

    @Override
    public void preStartContainer(PreStartContainerRequest request, StreamObserver<PreStartContainerResponse> out) {
        // Not requested in our options; answered anyway so a kubelet that calls it is not failed.
        out.onNext(PreStartContainerResponse.getDefaultInstance());
        out.onCompleted();
    }
}
