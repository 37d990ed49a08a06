package io.vfiobroker.kubelet;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.vfiobroker.api.deviceplugin.v1beta1.ContainerAllocateResponse;
import io.vfiobroker.api.deviceplugin.v1beta1.RegisterRequest;
import io.vfiobroker.api.deviceplugin.v1beta1.RegistrationGrpc;
import io.vfiobroker.cdi.CdiSpecWriter;
import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.core.PrepareException;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.nodeplugin.Exposure;
import io.vfiobroker.nodeplugin.KubeletAllocationHook;
import io.vfiobroker.nodeplugin.PoolConfig;
import io.vfiobroker.nodeplugin.PoolDevice;
import io.vfiobroker.nodeplugin.UnixGrpc;
import io.vfiobroker.policy.Principal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
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
    private static final long RETRY_MILLIS = 1000;

    private final KubeletProperties props;
    private final DeviceProvisioning core;
    private final KubeletAllocationHook hook;
    private final CdiSpecWriter cdi;
    private final Path pluginDir;
    private final PoolLists lists;
    private final List<PoolPlugin> plugins = new ArrayList<>();
    private final Object allocateLock = new Object();
    private UnixGrpc grpc;
    private WatchService watchService;
    private final java.util.concurrent.atomic.AtomicLong serveCount = new java.util.concurrent.atomic.AtomicLong();
    private Thread watcher;
    private ScheduledExecutorService refresher;
    private volatile boolean closed;

    /** @param host only where the daemon keeps its own files (plugin sockets, CDI specs); device facts come from {@code core} */
    public KubeletPlugins(KubeletProperties props, SysfsHost host, DeviceProvisioning core, KubeletAllocationHook hook) {
        this.props = props;
        this.core = core;
        this.hook = hook;
        this.pluginDir = host.daemonPath(props.pluginDir());
        this.cdi = props.cdi() ? new CdiSpecWriter(host.daemonPath(props.cdiDir())) : null;
        this.lists = new PoolLists(core, cdi);
        for (PoolConfig p : props.pools()) {
            plugins.add(new PoolPlugin(p, props.resourceName(p), Exposure.of(p, core.deviceNodes(), props.brokerSocketDir()), this::allocate));
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
        if (s != null) UnixGrpc.stop(s);
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
        HostInventory inv = core.inventory();
        Map<PciAddress, String> original = core.originalDrivers();
        for (PoolPlugin p : plugins) {
            List<PoolDevice> list = lists.compute(p, inv, original);
            p.update(list);
            lists.writeCdi(p, list);
        }
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
            // Broker mode binds nothing here: the lease binds (and restores) when a client acquires.
            List<PciAddress> addresses = devs.stream().map(PoolDevice::address).toList();
            try {
                core.prepare(Principal.resource(p.resourceName), addresses, p.pool.mode() == PoolConfig.Mode.DEVICE_NODES);
            } catch (PrepareException e) {
                throw (switch (e.kind()) {
                    case POLICY -> Status.PERMISSION_DENIED.withDescription(e.getMessage());
                    case BIND_REFUSED -> Status.FAILED_PRECONDITION.withDescription(p.resourceName + ": " + e.getMessage());
                    case BIND_FAILED -> Status.INTERNAL.withDescription(p.resourceName + ": " + e.getMessage());
                }).asException();
            }
            refresh();
            return AllocateResponses.of(p, devs, hook, cdi);
        }
    }
}
