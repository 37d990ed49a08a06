package io.vfiobroker.web.console;

import io.vfiobroker.iommu.DeviceDomain;
import io.vfiobroker.iommu.DomainOpener;
import io.vfiobroker.iommu.HandoverFd;
import io.vfiobroker.nativeshim.LibcAbi;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.Posix;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Stands in for the VFIO ioctls (the generated host has no /dev/vfio): a "domain" is a few real files the daemon
 * opens, so leases run for real above the ioctls. After the daemon test's FakeDomainOpener.
 */
final class TestDomainOpener implements DomainOpener {
    private final Path dir;

    TestDomainOpener(Path dir) throws IOException {
        this.dir = Files.createDirectories(dir);
    }

    @Override
    public List<String> availableBackends() {
        return List.of("legacy");
    }

    @Override
    public DeviceDomain open(List<Member> devices, String backend) {
        try {
            List<HandoverFd> fds = new ArrayList<>();
            fds.add(new HandoverFd(HandoverFd.Kind.CONTAINER, file("container"), null, -1, -1, List.of()));
            for (Member m : devices) {
                fds.add(new HandoverFd(HandoverFd.Kind.DEVICE, file("device-" + m.address()), m.address().toString(), m.group(), -1,
                        List.of(new HandoverFd.Region(0, 7, 4096, 0))));
            }
            return new DeviceDomain() {
                @Override
                public String backend() {
                    return backend;
                }

                @Override
                public List<HandoverFd> fds() {
                    return fds;
                }

                @Override
                public List<String> resetDevices() {
                    return devices.stream().map(m -> m.address() + " reset").toList();
                }

                @Override
                public void close() {
                    fds.forEach(f -> f.fd().close());
                }
            };
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private OwnedFd file(String name) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, name + "\n");
        return Posix.open(p, LibcAbi.O_RDONLY);
    }
}
