package io.vfiobroker.bench;

import io.vfiobroker.iommu.DeviceDomain;
import io.vfiobroker.iommu.DomainOpener;
import io.vfiobroker.iommu.HandoverFd;
import io.vfiobroker.nativeshim.LibcAbi;
import io.vfiobroker.nativeshim.Posix;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Stands in for the VFIO ioctls: a "domain" is real files opened by the daemon (one open per fd, as the container
 * and device fds are), so the handover over SCM_RIGHTS and the fd bookkeeping are real. The files are written once,
 * not per lease, so a cycle costs what VFIO's opens would, not a file write.
 */
final class FileDomainOpener implements DomainOpener {
    private final Path dir;
    final AtomicInteger open = new AtomicInteger();

    FileDomainOpener(Path dir) throws IOException {
        this.dir = Files.createDirectories(dir);
        Files.writeString(dir.resolve("container"), "container\n");
    }

    @Override
    public List<String> availableBackends() {
        return List.of("legacy");
    }

    @Override
    public DeviceDomain open(List<Member> devices, String backend) {
        List<HandoverFd> fds = new ArrayList<>();
        fds.add(new HandoverFd(HandoverFd.Kind.CONTAINER, Posix.open(dir.resolve("container"), LibcAbi.O_RDONLY), null, -1, -1, List.of()));
        for (Member m : devices) {
            Path f = dir.resolve("device-" + m.address());
            try {
                if (!Files.exists(f)) Files.writeString(f, "device " + m.address() + "\n");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            fds.add(new HandoverFd(HandoverFd.Kind.DEVICE, Posix.open(f, LibcAbi.O_RDONLY), m.address().toString(), m.group(), -1,
                    List.of(new HandoverFd.Region(0, 7, 4096, 0))));
        }
        open.incrementAndGet();
        return DeviceDomain.of(backend, fds, () -> devices.stream().map(m -> m.address() + " reset").toList(), open::decrementAndGet);
    }
}
