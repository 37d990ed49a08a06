package io.vfiobroker.e2e.guest;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.vfiobroker.api.v1.AcquireRequest;
import io.vfiobroker.api.v1.AcquireResponse;
import io.vfiobroker.api.v1.Backend;
import io.vfiobroker.api.v1.Event;
import io.vfiobroker.api.v1.EventKind;
import io.vfiobroker.api.v1.EventsGrpc;
import io.vfiobroker.api.v1.FdInfo;
import io.vfiobroker.api.v1.WatchRequest;
import io.vfiobroker.client.AcquiredDevices;
import io.vfiobroker.client.VfioBrokerClient;
import io.vfiobroker.nativeshim.DmaBackend;
import io.vfiobroker.nativeshim.DmaBuffer;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.VfioAbi;
import io.vfiobroker.nativeshim.VfioDevice;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A uid-1000 client the VM scenarios steer line by line on stdin; it runs in the guest from the daemon's thin
 * jar plus e2e/target/test-classes. It acquires, prints one JSON line per step and never judges.
 *
 * <pre>LeaseProbe [--backend legacy|iommufd] [--watch] [--wait] DEV...</pre>
 * With {@code --wait} it connects, lists its leases (so the JVM and channel are warm), prints {@code ready} and
 * acquires only once stdin says {@code go}: a scenario times the Acquire, not the JVM's start.
 * Commands: {@code bar0} (BAR0 offset 0 of every device fd), {@code dma} (edu DMA round trip on the first device),
 * {@code mmap} (maps the first device's BAR0, reads the edu ID through the mapping, then closes every fd: only
 * the mapping still holds the device), {@code limits} (this process's RLIMIT_MEMLOCK), {@code release}, {@code exit}
 * (exit holding everything),
 * {@code sleep} (stop reading stdin: a client that ignores everything). With {@code --watch} it watches its
 * lease on Events.Watch and, on a notice that the lease is ending, closes every fd it holds and exits 0.
 */
public final class LeaseProbe {

    private static final int STATE_ENDING = 4;   // LeaseState.LEASE_STATE_ENDING
    private static final int EDU_ID = 0x00;
    private static final int EDU_DMA_SRC = 0x80;
    private static final int EDU_DMA_DST = 0x88;
    private static final int EDU_DMA_COUNT = 0x90;
    private static final int EDU_DMA_CMD = 0x98;
    private static final long EDU_BUFFER = 0x40000;
    private static final long IOVA = 0x100000;

    private static final long T0 = System.nanoTime();

    public static void main(String[] args) throws Exception {
        Backend backend = Backend.BACKEND_LEGACY;
        boolean watch = false;
        boolean wait = false;
        List<String> devices = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--backend" -> backend = args[++i].equals("iommufd") ? Backend.BACKEND_IOMMUFD : Backend.BACKEND_LEGACY;
                case "--watch" -> watch = true;
                case "--wait" -> wait = true;
                default -> devices.add(args[i]);
            }
        }
        Map<String, Object> start = new LinkedHashMap<>();
        start.put("event", "start");
        start.put("pid", ProcessHandle.current().pid());
        start.put("memlock", memlockLimits());
        print(start);

        VfioBrokerClient client = VfioBrokerClient.connect(Path.of("/run/vfio-broker"));
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        if (wait) {
            // The first call pays for the channel and its classes: on one emulated vCPU that outlasts list()'s 10 s.
            int held = client.stub().withDeadlineAfter(300, TimeUnit.SECONDS)
                    .list(io.vfiobroker.api.v1.ListLeasesRequest.getDefaultInstance()).getLeasesCount();
            print(Map.of("event", "ready", "leases", held));
            for (String line = in.readLine(); !"go".equals(line); line = in.readLine()) {
                if (line == null) System.exit(1);
            }
        }
        AcquiredDevices got;
        try {
            // A generous deadline: one emulated vCPU, shared with other VMs on a loaded host.
            AcquireResponse r = client.stub().withDeadlineAfter(300, TimeUnit.SECONDS)
                    .acquire(AcquireRequest.newBuilder().addAllDevices(devices).setBackend(backend).build());
            try {
                got = client.redeem(r);
            } catch (RuntimeException e) {
                print(Map.of("event", "redeem-failed", "lease", r.getLease().getId()));
                throw e;
            }
        } catch (StatusRuntimeException e) {
            print(Map.of("event", "refused", "error", e.getStatus().getCode().toString(),
                    "message", String.valueOf(e.getStatus().getDescription())));
            client.close();
            System.exit(1);
            return;
        } catch (RuntimeException e) {
            print(Map.of("event", "refused", "error", e.getClass().getSimpleName(), "message", String.valueOf(e.getMessage())));
            client.close();
            System.exit(1);
            return;
        }
        String lease = got.lease().getId();
        Map<String, Object> acquired = new LinkedHashMap<>();
        acquired.put("event", "acquired");
        acquired.put("lease", lease);
        acquired.put("backend", got.lease().getBackend().toString());
        acquired.put("leaseDevices", got.lease().getDevicesList().stream().map(d -> d.getAddress()).toList());
        List<Object> fds = new ArrayList<>();
        for (int i = 0; i < got.bundle().getFdsCount(); i++) {
            FdInfo f = got.bundle().getFds(i);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("kind", f.getKind().toString());
            m.put("device", f.getDevice());
            m.put("link", link(got.fds().get(i)));
            fds.add(m);
        }
        acquired.put("fds", fds);
        acquired.put("memlock", memlockLimits());
        print(acquired);
        if (watch) watch(lease, got);

        for (String line; (line = in.readLine()) != null; ) {
            switch (line.strip()) {
                case "bar0" -> print(bar0(got));
                case "mmap" -> print(mapBar0AndCloseFds(got));
                case "dma" -> print(dma(got));
                case "limits" -> print(Map.of("event", "limits", "memlock", memlockLimits()));
                case "release" -> {
                    try {
                        got.close();
                        print(Map.of("event", "released", "memlock", memlockLimits()));
                    } catch (RuntimeException e) {
                        print(Map.of("event", "release-failed", "message", String.valueOf(e.getMessage())));
                    }
                }
                case "exit" -> {
                    print(Map.of("event", "exit"));
                    Runtime.getRuntime().halt(0);
                }
                case "sleep" -> {
                    print(Map.of("event", "sleeping"));
                    Thread.sleep(Long.MAX_VALUE);
                }
                default -> print(Map.of("event", "unknown-command", "command", line));
            }
        }
        Runtime.getRuntime().halt(0);
    }

    /** Watches the lease on its own channel; on ENDING closes every fd of the lease and exits 0. */
    private static void watch(String lease, AcquiredDevices got) {
        MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        ManagedChannel ch = NettyChannelBuilder.forAddress(new DomainSocketAddress("/run/vfio-broker/api.sock"))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
        Iterator<Event> events = EventsGrpc.newBlockingStub(ch)
                .watch(WatchRequest.newBuilder().addKinds(EventKind.EVENT_KIND_LEASE).build());
        Thread t = new Thread(() -> {
            try {
                while (events.hasNext()) {
                    Event e = events.next();
                    if (!e.hasLease() || !e.getLease().getId().equals(lease)) continue;
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("event", "lease-event");
                    m.put("type", e.getType());
                    m.put("state", e.getLease().getStateValue());
                    m.put("endReason", e.getLease().getEndReason());
                    print(m);
                    if (e.getLease().getStateValue() == STATE_ENDING) {
                        for (OwnedFd fd : got.fds()) fd.close();
                        print(Map.of("event", "closed-fds", "open", openVfioFds()));
                        Runtime.getRuntime().halt(0);
                    }
                }
                print(Map.of("event", "watch-ended"));
            } catch (RuntimeException e) {
                print(Map.of("event", "watch-failed", "message", String.valueOf(e.getMessage())));
            }
        }, "watch");
        t.setDaemon(true);
        t.start();
        print(Map.of("event", "watching"));
    }

    private static Map<String, Object> bar0(AcquiredDevices got) {
        Map<String, Object> ids = new LinkedHashMap<>();
        for (FdInfo f : got.bundle().getFdsList()) {
            if (f.getKind() != FdInfo.Kind.KIND_DEVICE) continue;
            try {
                VfioDevice d = got.device(f.getDevice());
                ids.put(f.getDevice(), String.format("0x%08x", d.read32(VfioAbi.VFIO_PCI_BAR0_REGION_INDEX, EDU_ID)));
            } catch (RuntimeException e) {
                ids.put(f.getDevice(), "error: " + e.getMessage());
            }
        }
        return Map.of("event", "bar0", "ids", ids);
    }

    /** libc's mmap, which native-shim has no call for: only a hostile client maps a device and keeps the mapping. */
    interface Libc extends com.sun.jna.Library {
        com.sun.jna.Pointer mmap(com.sun.jna.Pointer addr, long length, int prot, int flags, int fd, long offset);
    }

    private static final int PROT_READ = 1;
    private static final int MAP_SHARED = 1;
    private static final List<com.sun.jna.Pointer> MAPPINGS = new ArrayList<>(); // kept reachable: never unmapped

    private static Map<String, Object> mapBar0AndCloseFds(AcquiredDevices got) {
        String addr = got.bundle().getFdsList().stream().filter(f -> f.getKind() == FdInfo.Kind.KIND_DEVICE)
                .map(FdInfo::getDevice).findFirst().orElse(null);
        if (addr == null) return Map.of("event", "mmap-failed", "message", "no device fd");
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("event", "mapped");
        m.put("device", addr);
        VfioDevice d;
        try {
            d = got.device(addr);
            var bar = d.regionInfo(VfioAbi.VFIO_PCI_BAR0_REGION_INDEX);
            Libc libc = com.sun.jna.Native.load("c", Libc.class);
            com.sun.jna.Pointer p = libc.mmap(null, bar.size(), PROT_READ, MAP_SHARED, d.fd(), bar.offset());
            if (com.sun.jna.Pointer.nativeValue(p) == -1) {
                return Map.of("event", "mmap-failed", "message", "mmap of BAR0: errno " + com.sun.jna.Native.getLastError());
            }
            MAPPINGS.add(p);
            m.put("id", String.format("0x%08x", p.getInt(EDU_ID)));
        } catch (RuntimeException e) {
            return Map.of("event", "mmap-failed", "message", String.valueOf(e.getMessage()));
        }
        d.close(); // its own duplicate of the device fd
        for (OwnedFd fd : got.fds()) fd.close();
        m.put("open", openVfioFds());
        m.put("maps", vfioMappings());
        return m;
    }

    /** This process's mappings of VFIO files, as /proc/self/maps names them. */
    private static List<String> vfioMappings() {
        try {
            return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.contains("/dev/vfio/") || l.contains("[vfio-device]")).toList();
        } catch (Exception e) {
            return List.of("unreadable: " + e.getMessage());
        }
    }

    /** RAM -> edu buffer -> RAM through the IOMMU, as ClientCommand's edu test does. */
    private static Map<String, Object> dma(AcquiredDevices got) {
        String addr = got.bundle().getFdsList().stream().filter(f -> f.getKind() == FdInfo.Kind.KIND_DEVICE)
                .map(FdInfo::getDevice).findFirst().orElse(null);
        if (addr == null) return Map.of("event", "dma", "error", "no device fd");
        try {
            return eduRoundTrip("dma", addr, got.device(addr), got.dma());
        } catch (RuntimeException e) {
            return Map.of("event", "dma", "error", e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    /** An edu DMA round trip through {@code dma}'s IOMMU mappings, reported as one event: roundTrip, or error. */
    static Map<String, Object> eduRoundTrip(String event, String addr, VfioDevice dev, DmaBackend dma) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("event", event);
        try {
            byte[] cmd = new byte[2];
            dev.read(VfioAbi.VFIO_PCI_CONFIG_REGION_INDEX, 4, cmd);
            cmd[0] |= 0x06;   // memory space + bus master
            dev.write(VfioAbi.VFIO_PCI_CONFIG_REGION_INDEX, 4, cmd);
            long size = 2L << 20;
            try (DmaBuffer buf = DmaBuffer.allocate(size)) {
                dma.map(buf.address(), IOVA, size, true);
                int n = 256;
                for (int i = 0; i < n; i++) buf.pointer().setByte(i, (byte) (i * 5 + 1));
                eduDma(dev, IOVA, EDU_BUFFER, n, 0x01);
                eduDma(dev, EDU_BUFFER, IOVA + 4096, n, 0x03);
                boolean same = true;
                for (int i = 0; i < n; i++) same &= buf.pointer().getByte(4096 + i) == (byte) (i * 5 + 1);
                out.put("device", addr);
                out.put("roundTrip", same);
                dma.unmap(IOVA, size);
            }
        } catch (RuntimeException e) {
            out.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        return out;
    }

    private static void eduDma(VfioDevice dev, long src, long dst, int count, int cmd) {
        int bar = VfioAbi.VFIO_PCI_BAR0_REGION_INDEX;
        dev.write32(bar, EDU_DMA_SRC, (int) src);
        dev.write32(bar, EDU_DMA_SRC + 4, (int) (src >>> 32));
        dev.write32(bar, EDU_DMA_DST, (int) dst);
        dev.write32(bar, EDU_DMA_DST + 4, (int) (dst >>> 32));
        dev.write32(bar, EDU_DMA_COUNT, count);
        dev.write32(bar, EDU_DMA_COUNT + 4, 0);
        dev.write32(bar, EDU_DMA_CMD, cmd);
        long deadline = System.nanoTime() + 5_000_000_000L;
        while ((dev.read32(bar, EDU_DMA_CMD) & 0x01) != 0) {
            if (System.nanoTime() > deadline) throw new IllegalStateException("edu DMA did not finish within 5 s");
            Thread.onSpinWait();
        }
    }

    private static String memlockLimits() {
        try {
            return Files.readAllLines(Path.of("/proc/self/limits")).stream().filter(l -> l.startsWith("Max locked memory"))
                    .map(l -> l.substring("Max locked memory".length()).strip().replaceAll("\\s+", " ")).findFirst().orElse("?");
        } catch (Exception e) {
            return "unreadable: " + e.getMessage();
        }
    }

    private static String link(OwnedFd fd) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd.fd())).toString();
        } catch (Exception e) {
            return "?";
        }
    }

    /** What this process still has open of VFIO and iommufd. */
    private static List<String> openVfioFds() {
        List<String> out = new ArrayList<>();
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : s.toList()) {
                try {
                    String l = Files.readSymbolicLink(p).toString();
                    if (l.startsWith("/dev/vfio") || l.equals("/dev/iommu") || l.contains("vfio-device")) out.add(l);
                } catch (Exception ignored) {
                    // raced with a close
                }
            }
        } catch (Exception e) {
            out.add("unreadable: " + e.getMessage());
        }
        return out;
    }

    static synchronized void print(Map<String, ?> m) {
        StringBuilder b = new StringBuilder();
        json(b, m);
        System.out.println(b.insert(b.length() - 1, ",\"ms\":" + (System.nanoTime() - T0) / 1_000_000));
        System.out.flush();
    }

    private static void json(StringBuilder b, Object v) {
        if (v instanceof Map<?, ?> m) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) b.append(',');
                first = false;
                json(b, String.valueOf(e.getKey()));
                b.append(':');
                json(b, e.getValue());
            }
            b.append('}');
        } else if (v instanceof List<?> l) {
            b.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) b.append(',');
                json(b, l.get(i));
            }
            b.append(']');
        } else if (v instanceof Number || v instanceof Boolean) {
            b.append(v);
        } else {
            b.append('"');
            for (char c : String.valueOf(v).toCharArray()) {
                switch (c) {
                    case '"' -> b.append("\\\"");
                    case '\\' -> b.append("\\\\");
                    case '\n' -> b.append("\\n");
                    default -> b.append(c < 0x20 ? ' ' : c);
                }
            }
            b.append('"');
        }
    }
}
