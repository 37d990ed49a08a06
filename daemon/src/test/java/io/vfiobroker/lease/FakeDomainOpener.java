package io.vfiobroker.lease;

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
 * The test twin of the VFIO ioctls: each "domain" is a set of real files opened by the daemon, so everything
 * above the ioctls (handover over SCM_RIGHTS, leases, process watch) runs for real without /dev/vfio.
 */
public final class FakeDomainOpener implements DomainOpener {
    final Path dir;
    final AtomicInteger resets = new AtomicInteger();
    final AtomicInteger open = new AtomicInteger();

    public FakeDomainOpener(Path dir) {
        this.dir = dir;
    }

    @Override
    public List<String> availableBackends() {
        return List.of("legacy");
    }

    @Override
    public DeviceDomain open(List<Member> devices, String backend) {
        try {
            List<HandoverFd> fds = new ArrayList<>();
            fds.add(new HandoverFd(HandoverFd.Kind.CONTAINER, file("container", "container"), null, -1, -1, List.of()));
            for (Member m : devices) {
                fds.add(new HandoverFd(HandoverFd.Kind.DEVICE, file("device-" + m.address(), "device " + m.address()),
                        m.address().toString(), m.group(), -1, List.of(new HandoverFd.Region(0, 7, 4096, 0))));
            }
            open.incrementAndGet();
            return DeviceDomain.of(backend, fds, () -> {
                resets.addAndGet(devices.size());
                return devices.stream().map(m -> m.address() + " reset").toList();
            }, open::decrementAndGet);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private io.vfiobroker.nativeshim.OwnedFd file(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, content + "\n");
        return Posix.open(p, LibcAbi.O_RDONLY);
    }
}
