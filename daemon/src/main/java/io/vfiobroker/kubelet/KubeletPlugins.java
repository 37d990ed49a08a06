package io.vfiobroker.kubelet;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.vfiobroker.api.deviceplugin.v1beta1.CDIDevice;
import io.vfiobroker.api.deviceplugin.v1beta1.ContainerAllocateResponse;
import io.vfiobroker.api.deviceplugin.v1beta1.DeviceSpec;
import io.vfiobroker.api.deviceplugin.v1beta1.Mount;
import io.vfiobroker.api.deviceplugin.v1beta1.RegisterRequest;
import io.vfiobroker.api.deviceplugin.v1beta1.RegistrationGrpc;
import io.vfiobroker.binding.BindingException;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.cdi.CdiSpec;
import io.vfiobroker.cdi.CdiSpecWriter;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.inventory.InventoryScanner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The kubelet adapter: one device-plugin endpoint per pool in the kubelet's device-plugins directory,
 * registered with kubelet.sock. The directory is watched (inotify): when the kubelet restarts it wipes our
 * sockets and recreates kubelet.sock, and we serve and register again. Device health is re-read every
 * refresh interval and after each Allocate; CDI specs follow the same refresh.
 */
public final class KubeletPlugins implements AutoCloseable {

    public static final String API_VERSION = "v1beta1";
    public static final String KUBELET_SOCKET = "kubelet.sock";
    private static final Logger log = LoggerFactory.getLogger(KubeletPlugins.class);
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final long RETRY_MILLIS = 1000;

    private final KubeletProperties props;
    private final SysfsHost host;
    private final InventoryScanner scanner;
    private final BindingService binding;
    private final DeviceAccess access;
    private final KubeletAllocationHook hook;
    private final CdiSpecWriter cdi;
    private final Path pluginDir;
    private final PoolSelector selector;
    private final List<PoolPlugin> plugins = new ArrayList<>();
    // Every device a pool ever listed: a device that vanishes stays listed, unhealthy, until it returns.
    private final Map<String, Map<PciAddress, PoolDevice>> known = new ConcurrentHashMap<>();
    private final Object allocateLock = new Object();
    private UnixGrpc grpc;
    private WatchService watchService;
    private final java.util.concurrent.atomic.AtomicLong serveCount = new java.util.concurrent.atomic.AtomicLong();
    private Thread watcher;
    private ScheduledExecutorService refresher;
    private volatile boolean closed;

    public KubeletPlugins(KubeletProperties props, SysfsHost host, InventoryScanner scanner, BindingService binding,
                          DeviceAccess access, KubeletAllocationHook hook) {
        this.props = props;
        this.host = host;
        this.scanner = scanner;
        this.binding = binding;
        this.access = access;
        this.hook = hook;
        this.pluginDir = host.root().resolve(props.pluginDir());
        this.cdi = props.cdi() ? new CdiSpecWriter(host.root().resolve(props.cdiDir())) : null;
        this.selector = new PoolSelector(host);
        for (PoolConfig p : props.pools()) {
            plugins.add(new PoolPlugin(p, props.resourceName(p), Exposure.of(p, host, props.brokerSocketDir()), this::allocate));
        }
    }

    public Path pluginDir() {
        return pluginDir;
    }

    public CdiSpecWriter cdiWriter() {
        return cdi;
    }

    /** Device lists as the kubelet sees them, by resource name. */
    public Map<String, Map<String, PoolDevice>> devices() {
        Map<String, Map<String, PoolDevice>> m = new LinkedHashMap<>();
        for (PoolPlugin p : plugins) m.put(p.resourceName, p.devices());
        return m;
    }

    public boolean registered(String resourceName) {
        return plugins.stream().anyMatch(p -> p.resourceName.equals(resourceName) && p.registered);
    }

    // ---- lifecycle ------------------------------------------------------------------------------------------

    public synchronized void start() {
        if (grpc != null) return;
        try {
            Files.createDirectories(pluginDir);
            watchService = pluginDir.getFileSystem().newWatchService();
            pluginDir.register(watchService, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_DELETE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot watch the kubelet's device-plugin directory " + pluginDir + ": " + e.getMessage(), e);
        }
        grpc = new UnixGrpc(2);
        refresh();
        for (PoolPlugin p : plugins) serve(p);
        for (PoolPlugin p : plugins) register(p);
        watcher = new Thread(this::watchLoop, "kubelet-watch");
        watcher.setDaemon(true);
        watcher.start();
        refresher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "kubelet-refresh");
            t.setDaemon(true);
            return t;
        });
        long every = Math.max(100, props.refreshInterval().toMillis());
        refresher.scheduleWithFixedDelay(() -> {
            try {
                refresh();
            } catch (RuntimeException e) {
                log.warn("event=kubelet-refresh-failed error=\"{}\"", e.toString());
            }
        }, every, every, TimeUnit.MILLISECONDS);
        log.info("event=kubelet-plugins-started dir={} pools={}", pluginDir, plugins.stream().map(p -> p.resourceName).toList());
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (refresher != null) refresher.shutdownNow();
        if (watcher != null) watcher.interrupt();
        try {
            if (watchService != null) watchService.close();
        } catch (IOException ignored) {
            // only frees the inotify descriptor
        }
        if (watcher != null) {
            try {
                watcher.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (PoolPlugin p : plugins) {
            stopServing(p);
            try {
                Files.deleteIfExists(pluginDir.resolve(p.endpoint()));
            } catch (IOException ignored) {
                // the kubelet wipes its plugin directory on restart anyway
            }
        }
        if (grpc != null) grpc.close();
        grpc = null;
    }

    private void serve(PoolPlugin p) {
        Path sock = pluginDir.resolve(p.endpoint());
        // Bind under a private name, then rename into place: Netty unlinks a listener's bound path when it closes,
        // possibly after its successor is up, so no listener is ever bound to the endpoint path itself.
        Path bound = pluginDir.resolve("." + p.endpoint() + "." + serveCount.incrementAndGet());
        try {
            Files.deleteIfExists(bound);
            p.server = grpc.serve(bound, p);
            Files.move(bound, sock, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            log.info("event=plugin-serving resource={} socket={}", p.resourceName, sock);
        } catch (IOException e) {
            p.server = null;
            log.warn("event=plugin-serve-failed resource={} socket={} error=\"{}\"", p.resourceName, sock, e.getMessage());
        }
    }

    private void stopServing(PoolPlugin p) {
        p.closeWatchers();
        var s = p.server;
        p.server = null;
        p.registered = false;
        if (s == null) return;
        s.shutdownNow();
        try {
            // Netty unlinks the socket path when the listener closes: wait for that before a new one is bound there.
            s.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private boolean register(PoolPlugin p) {
        Path kubelet = pluginDir.resolve(KUBELET_SOCKET);
        if (p.server == null || !Files.exists(kubelet)) return false;
        ManagedChannel ch = grpc.connect(kubelet);
        try {
            RegistrationGrpc.newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS).register(RegisterRequest.newBuilder()
                    .setVersion(API_VERSION).setEndpoint(p.endpoint()).setResourceName(p.resourceName)
                    .setOptions(PoolPlugin.options()).build());
            p.registered = true;
            log.info("event=plugin-registered resource={} endpoint={}", p.resourceName, p.endpoint());
            return true;
        } catch (StatusRuntimeException e) {
            log.warn("event=plugin-register-failed resource={} status={} error=\"{}\"", p.resourceName, e.getStatus().getCode(),
                    e.getStatus().getDescription());
            return false;
        } finally {
            ch.shutdownNow();
        }
    }

    private void watchLoop() {
        while (!closed) {
            try {
                WatchKey key = watchService.poll(RETRY_MILLIS, TimeUnit.MILLISECONDS);
                boolean kubeletNew = false;
                Set<PoolPlugin> lost = new LinkedHashSet<>();
                while (key != null) {
                    for (WatchEvent<?> ev : key.pollEvents()) {
                        if (ev.kind() == StandardWatchEventKinds.OVERFLOW) {
                            kubeletNew = true;
                            continue;
                        }
                        String name = ev.context().toString();
                        if (name.equals(KUBELET_SOCKET) && ev.kind() == StandardWatchEventKinds.ENTRY_CREATE) kubeletNew = true;
                        if (ev.kind() == StandardWatchEventKinds.ENTRY_DELETE) {
                            for (PoolPlugin p : plugins) if (p.endpoint().equals(name)) lost.add(p);
                        }
                    }
                    key.reset();
                    key = watchService.poll(); // take the rest of a burst in the same round
                }
                if (closed) return;
                synchronized (this) {
                    if (closed) return;
                    if (kubeletNew) log.info("event=kubelet-restarted socket={}", pluginDir.resolve(KUBELET_SOCKET));
                    for (PoolPlugin p : plugins) {
                        // Our own restart deletes and recreates the socket: a delete whose socket is back is no loss.
                        boolean gone = lost.contains(p) && !Files.exists(pluginDir.resolve(p.endpoint()));
                        if (kubeletNew || gone || p.server == null) {
                            stopServing(p);
                            serve(p);
                        }
                    }
                    for (PoolPlugin p : plugins) if (!p.registered) register(p);
                }
            } catch (InterruptedException | ClosedWatchServiceException e) {
                return;
            } catch (RuntimeException e) {
                log.warn("event=kubelet-watch-error error=\"{}\"", e.toString());
            }
        }
    }

    // ---- device lists and health ----------------------------------------------------------------------------

    /** Reads the host once and updates every pool's list (and CDI spec). Safe to call from any thread. */
    public synchronized void refresh() {
        HostInventory inv = scanner.scan();
        Map<PciAddress, String> original = new HashMap<>();
        for (Map.Entry<PciAddress, Journal.Owned> e : binding.status().entrySet()) original.put(e.getKey(), e.getValue().originalDriver());
        for (PoolPlugin p : plugins) {
            List<PoolDevice> list = compute(p, inv, original);
            p.update(list);
            writeCdi(p, list);
        }
    }

    private List<PoolDevice> compute(PoolPlugin p, HostInventory inv, Map<PciAddress, String> original) {
        Map<PciAddress, PoolDevice> seen = known.computeIfAbsent(p.resourceName, k -> new ConcurrentHashMap<>());
        Map<PciAddress, PoolDevice> out = new TreeMap<>();
        for (Device d : inv.devices()) {
            if (!selector.matches(p.pool.selectors(), d, inv, original)) continue;
            PoolDevice pd = new PoolDevice(d.address(), d.iommuGroup(), d.numaNode(), unhealthyReason(p, d, inv));
            out.put(d.address(), pd);
        }
        for (Map.Entry<PciAddress, PoolDevice> e : seen.entrySet()) {
            if (out.containsKey(e.getKey())) continue;
            PoolDevice last = e.getValue();
            String why = inv.device(e.getKey()).isPresent()
                    ? e.getKey() + " no longer matches the selectors of pool " + p.pool.name()
                    : e.getKey() + " is gone from the host (removed, or its VF was disabled)";
            out.put(e.getKey(), new PoolDevice(last.address(), last.group(), last.numaNode(), why));
        }
        for (PoolDevice d : out.values()) if (d.healthy() || !seen.containsKey(d.address())) seen.put(d.address(), d);
        return List.copyOf(out.values());
    }

    private String unhealthyReason(PoolPlugin p, Device d, HostInventory inv) {
        String kernel = DeviceHealth.problem(p.pool, d, inv, host);
        return kernel != null ? kernel : access.refusal(p.resourceName, d.address(), inv).orElse(null);
    }

    private void writeCdi(PoolPlugin p, List<PoolDevice> list) {
        if (cdi == null) return;
        List<CdiSpec.Device> devs = new ArrayList<>();
        for (PoolDevice d : list) {
            if (d.reason() != null && d.reason().contains(" is gone from the host")) continue;
            List<CdiSpec.DeviceNode> nodes = p.exposure.deviceNodes(d).stream().map(n -> new CdiSpec.DeviceNode(n, null, "c", "rw")).toList();
            // Every CDI device needs some edit; this one also tells the container which function it got.
            devs.add(new CdiSpec.Device(d.id(), new CdiSpec.ContainerEdits(List.of(deviceEnvName(d.address()) + "=" + d.id()), nodes, List.of())));
        }
        if (devs.isEmpty()) {
            cdi.remove(p.resourceName);
            return;
        }
        CdiSpec.ContainerEdits shared = new CdiSpec.ContainerEdits(
                p.exposure.env().entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).sorted().toList(),
                p.exposure.sharedNodes().stream().map(n -> new CdiSpec.DeviceNode(n, null, "c", "rw")).toList(),
                p.exposure.mounts().stream().map(m -> new CdiSpec.Mount(m.hostPath(), m.containerPath(),
                        m.readOnly() ? List.of("bind", "ro", "nosuid", "nodev") : List.of("bind", "nosuid", "nodev"), null)).toList());
        try {
            cdi.write(new CdiSpec(p.resourceName, devs, shared));
        } catch (UncheckedIOException e) {
            log.warn("event=cdi-spec-failed resource={} error=\"{}\"", p.resourceName, e.getMessage());
        }
    }

    static String deviceEnvName(PciAddress a) {
        return "VFIO_BROKER_DEVICE_" + a.toString().replaceAll("[^0-9a-f]", "_").toUpperCase(Locale.ROOT);
    }

    /** sriov-network-device-plugin's name: PCIDEVICE_ and the resource name upper-cased, non-alphanumerics as '_'. */
    public static String envName(String resourceName) {
        return "PCIDEVICE_" + resourceName.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9]", "_");
    }

    // ---- Allocate -------------------------------------------------------------------------------------------

    private ContainerAllocateResponse allocate(PoolPlugin p, List<String> ids) throws StatusException {
        synchronized (allocateLock) {
            if (ids.isEmpty()) throw Status.INVALID_ARGUMENT.withDescription(p.resourceName + ": no devices requested").asException();
            List<PoolDevice> devs = new ArrayList<>();
            for (String id : ids) {
                PoolDevice d = p.devices().get(id);
                if (d == null) {
                    throw Status.NOT_FOUND.withDescription(p.resourceName + " has no device '" + id + "'").asException();
                }
                if (!d.healthy()) {
                    throw Status.FAILED_PRECONDITION.withDescription(p.resourceName + ": " + id + " is unhealthy: " + d.reason()).asException();
                }
                devs.add(d);
            }
            // Health is a few seconds old at worst; policy is asked again at the moment of handing out.
            HostInventory inv = scanner.scan();
            for (PoolDevice d : devs) {
                var refusal = access.refusal(p.resourceName, d.address(), inv);
                if (refusal.isPresent()) throw Status.PERMISSION_DENIED.withDescription(refusal.get()).asException();
            }
            if (p.pool.mode() == PoolConfig.Mode.DEVICE_NODES) {
                // Broker mode binds nothing here: the lease binds (and restores) when a client acquires.
                Set<Integer> done = new LinkedHashSet<>();
                for (PoolDevice d : devs) {
                    if (!done.add(d.group())) continue;
                    try {
                        binding.bind(d.address(), false);
                    } catch (BindingException e) {
                        throw (e.refused() ? Status.FAILED_PRECONDITION : Status.INTERNAL)
                                .withDescription(p.resourceName + ": cannot bind " + d.id() + ": " + e.getMessage()).asException();
                    }
                }
            }
            refresh();
            return response(p, devs);
        }
    }

    private ContainerAllocateResponse response(PoolPlugin p, List<PoolDevice> devs) throws StatusException {
        ContainerAllocateResponse.Builder b = ContainerAllocateResponse.newBuilder();
        Set<String> nodes = new LinkedHashSet<>(p.exposure.sharedNodes());
        Map<String, Object> info = new LinkedHashMap<>();
        for (PoolDevice d : devs) {
            List<String> own = p.exposure.deviceNodes(d);
            if (own.isEmpty() && p.pool.mode() == PoolConfig.Mode.DEVICE_NODES) {
                throw Status.FAILED_PRECONDITION.withDescription(p.resourceName + ": " + d.id() + " has no "
                        + (p.pool.backend() == PoolConfig.DeviceBackend.IOMMUFD
                        ? "vfio cdev (sys/bus/pci/devices/" + d.id() + "/vfio-dev/ is empty): the kernel lacks VFIO_DEVICE_CDEV"
                        : "IOMMU group node")).asException();
            }
            nodes.addAll(own);
            info.put(d.id(), p.exposure.info(d));
        }
        for (String n : nodes) b.addDevices(DeviceSpec.newBuilder().setContainerPath(n).setHostPath(n).setPermissions("rw"));
        for (Exposure.MountSpec m : p.exposure.mounts()) {
            b.addMounts(Mount.newBuilder().setContainerPath(m.containerPath()).setHostPath(m.hostPath()).setReadOnly(m.readOnly()));
        }
        String env = envName(p.resourceName);
        b.putEnvs(env, String.join(",", devs.stream().map(PoolDevice::id).toList()));
        b.putEnvs(env + "_INFO", JSON.writeValueAsString(info));
        b.putAllEnvs(p.exposure.env());
        List<PciAddress> addresses = devs.stream().map(PoolDevice::address).toList();
        b.putAllEnvs(hook.allocated(p.resourceName, p.pool.mode(), addresses));
        if (cdi != null && Files.exists(cdi.file(p.resourceName))) {
            for (PoolDevice d : devs) b.addCdiDevices(CDIDevice.newBuilder().setName(p.resourceName + "=" + d.id()));
        }
        log.info("event=allocated resource={} mode={} devices={} groups={}", p.resourceName,
                p.pool.mode().name().toLowerCase(Locale.ROOT), addresses, devs.stream().map(PoolDevice::group).distinct().toList());
        return b.build();
    }
}
