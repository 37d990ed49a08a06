package io.vfiobroker.cli;

import io.grpc.StatusRuntimeException;
import io.vfiobroker.api.v1.Backend;
import io.vfiobroker.api.v1.FdInfo;
import io.vfiobroker.client.AcquiredDevices;
import io.vfiobroker.client.VfioBrokerClient;
import io.vfiobroker.host.LinuxProcesses;
import io.vfiobroker.json.DomainJson;
import io.vfiobroker.nativeshim.DmaBackend;
import io.vfiobroker.nativeshim.DmaBuffer;
import io.vfiobroker.nativeshim.EventFd;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.VfioAbi;
import io.vfiobroker.nativeshim.VfioDevice;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A client of the broker, as an unprivileged program would be: acquires devices, and with {@code --edu-test}
 * drives QEMU's edu device through the received fds (BAR0, DMA, MSI). Prints one JSON object.
 */
@Command(name = "client", description = "Acquire devices from a running daemon as the calling user (and optionally exercise QEMU's edu device).")
final class ClientCommand extends CliCommand {

    // QEMU edu register map (docs/specs/edu.rst).
    private static final int EDU_ID = 0x00;
    private static final int EDU_LIVENESS = 0x04;
    private static final int EDU_IRQ_STATUS = 0x24;
    private static final int EDU_IRQ_RAISE = 0x60;
    private static final int EDU_IRQ_ACK = 0x64;
    private static final int EDU_DMA_SRC = 0x80;
    private static final int EDU_DMA_DST = 0x88;
    private static final int EDU_DMA_COUNT = 0x90;
    private static final int EDU_DMA_CMD = 0x98;
    private static final long EDU_BUFFER = 0x40000;
    // edu only reaches bus addresses below 256 MiB (28-bit DMA mask).
    private static final long IOVA = 0x100000;

    @Parameters(paramLabel = "ADDR", arity = "0..*", description = "devices to acquire (with --allocation: default all of its devices)")
    List<String> devices = new java.util.ArrayList<>();

    @Mixin
    AcquireOptions acquire;

    @Option(names = "--edu-test", description = "exercise QEMU's edu device: BAR0, liveness, DMA map, DMA engine, MSI")
    boolean eduTest;

    @Option(names = "--dma-size", description = "bytes to DMA-map in the edu test (default 2 MiB)")
    long dmaSize = 2L << 20;

    @Option(names = "--hold", description = "print the result, then hold the lease until stdin closes or says 'release'")
    boolean hold;

    @Override
    public Integer call() throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        Backend b = acquire.backend();
        out.put("pid", ProcessHandle.current().pid());
        try (VfioBrokerClient client = acquire.connect(devices)) {
            AcquiredDevices got;
            try {
                got = client.acquire(devices, b, acquire.memlock);
            } catch (StatusRuntimeException e) {
                out.put("error", e.getStatus().getCode().toString());
                out.put("message", e.getStatus().getDescription());
                print(out);
                return 1;
            }
            out.put("lease", got.lease().getId());
            out.put("uid", got.lease().getUid());
            out.put("backend", got.lease().getBackend().toString());
            out.put("unsafeInterrupts", got.lease().getUnsafeInterrupts());
            out.put("memlockLimit", got.lease().getMemlockLimitBytes());
            out.put("fds", got.bundle().getFdsList().stream().map(f -> f.getKind().toString()).toList());
            if (eduTest) edu(got, out);
            print(out);
            if (hold) {
                System.out.println("HOLDING");
                System.out.flush();
                String line = new BufferedReader(new InputStreamReader(System.in)).readLine();
                if (line == null || line.equals("release")) got.close();
                System.out.println("RELEASED");
            } else {
                got.close();
            }
            return 0;
        }
    }

    private void edu(AcquiredDevices got, Map<String, Object> out) {
        String addr = got.bundle().getFdsList().stream().filter(f -> f.getKind() == FdInfo.Kind.KIND_DEVICE)
                .map(FdInfo::getDevice).findFirst().orElseThrow();
        VfioDevice dev = got.device(addr);
        out.put("bar0Id", String.format("0x%08x", dev.read32(VfioAbi.VFIO_PCI_BAR0_REGION_INDEX, EDU_ID)));
        int probe = 0x12345678;
        dev.write32(VfioAbi.VFIO_PCI_BAR0_REGION_INDEX, EDU_LIVENESS, probe);
        out.put("liveness", dev.read32(VfioAbi.VFIO_PCI_BAR0_REGION_INDEX, EDU_LIVENESS) == ~probe);

        // Bus mastering on, so the device may DMA and signal MSI.
        byte[] cmd = new byte[2];
        dev.read(VfioAbi.VFIO_PCI_CONFIG_REGION_INDEX, 4, cmd);
        cmd[0] |= 0x06;
        dev.write(VfioAbi.VFIO_PCI_CONFIG_REGION_INDEX, 4, cmd);

        DmaBackend dma = got.dma();
        long lckBefore = LinuxProcesses.REAL.ownStatus().map(s -> s.vmLckBytes() / 1024).orElse(-1L);
        try (DmaBuffer buf = DmaBuffer.allocate(dmaSize)) {
            try {
                dma.map(buf.address(), IOVA, dmaSize, true);
            } catch (NativeException e) {
                out.put("dmaMap", e.errnoName());
                out.put("dmaMapMessage", e.getMessage());
                return;
            }
            out.put("dmaMap", "ok");
            long lckMapped = LinuxProcesses.REAL.ownStatus().map(s -> s.vmLckBytes() / 1024).orElse(-1L);
            out.put("vmLckBeforeKb", lckBefore);
            out.put("vmLckMappedKb", lckMapped);
            LinuxProcesses.REAL.ownStatus().ifPresent(s -> out.put("vmPinMappedKb", s.vmPinBytes() / 1024));

            // The DMA engine: RAM -> edu buffer -> RAM (a second page), then compare.
            int n = 256;
            for (int i = 0; i < n; i++) buf.pointer().setByte(i, (byte) (i * 7 + 3));
            edudma(dev, IOVA, EDU_BUFFER, n, 0x01);
            edudma(dev, EDU_BUFFER, IOVA + 4096, n, 0x03);
            boolean same = true;
            for (int i = 0; i < n; i++) same &= buf.pointer().getByte(4096 + i) == (byte) (i * 7 + 3);
            out.put("dmaRoundTrip", same);

            // MSI through an eventfd: the edu raises an interrupt when asked to.
            try (EventFd ev = EventFd.create(0, 0)) {
                dev.setIrqEventFds(VfioAbi.VFIO_PCI_MSI_IRQ_INDEX, ev.fd());
                dev.write32(VfioAbi.VFIO_PCI_BAR0_REGION_INDEX, EDU_IRQ_RAISE, 0x1);
                boolean fired = ev.await(Duration.ofSeconds(5));
                out.put("msi", fired);
                int status = dev.read32(VfioAbi.VFIO_PCI_BAR0_REGION_INDEX, EDU_IRQ_STATUS);
                dev.write32(VfioAbi.VFIO_PCI_BAR0_REGION_INDEX, EDU_IRQ_ACK, status);
                dev.disableIrqs(VfioAbi.VFIO_PCI_MSI_IRQ_INDEX);
            }
            long unmapped = dma.unmap(IOVA, dmaSize);
            out.put("dmaUnmapped", unmapped);
            out.put("vmLckAfterUnmapKb", LinuxProcesses.REAL.ownStatus().map(s -> s.vmLckBytes() / 1024).orElse(-1L));
        }
    }

    private static void edudma(VfioDevice dev, long src, long dst, int count, int cmd) {
        int bar = VfioAbi.VFIO_PCI_BAR0_REGION_INDEX;
        write64(dev, EDU_DMA_SRC, src);
        write64(dev, EDU_DMA_DST, dst);
        write64(dev, EDU_DMA_COUNT, count);
        dev.write32(bar, EDU_DMA_CMD, cmd);
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while ((dev.read32(bar, EDU_DMA_CMD) & 0x01) != 0) {
            if (System.nanoTime() > deadline) throw new IllegalStateException("edu DMA did not finish within 5 s");
            Thread.onSpinWait();
        }
    }

    private static void write64(VfioDevice dev, int off, long v) {
        dev.write32(VfioAbi.VFIO_PCI_BAR0_REGION_INDEX, off, (int) v);
        dev.write32(VfioAbi.VFIO_PCI_BAR0_REGION_INDEX, off + 4, (int) (v >>> 32));
    }

    private void print(Map<String, Object> out) {
        out().println(DomainJson.compactMapper().writeValueAsString(out));
        out().flush();
    }
}
