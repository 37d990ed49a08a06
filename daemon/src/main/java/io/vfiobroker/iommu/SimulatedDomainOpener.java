package io.vfiobroker.iommu;

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
 * The demo host's stand-in for the VFIO ioctls: a generated tree has no /dev/vfio, so each domain is a set of
 * small files, opened by the daemon and handed over exactly like real VFIO fds. Their text says what they stand
 * for, so nobody mistakes them for a device. Never used on a real root.
 */
public final class SimulatedDomainOpener implements DomainOpener {

    private final Path dir;

    public SimulatedDomainOpener(Path hostRoot) {
        if (hostRoot.toAbsolutePath().normalize().toString().equals("/")) {
            throw new IllegalArgumentException("the simulated domain opener never runs on the real root /");
        }
        this.dir = hostRoot.resolve("run/vfio-broker/simulated-fds");
    }

    @Override
    public List<String> availableBackends() {
        return List.of("legacy");
    }

    @Override
    public DeviceDomain open(List<Member> devices, String backend) {
        List<HandoverFd> fds = new ArrayList<>();
        try {
            Files.createDirectories(dir);
            fds.add(new HandoverFd(HandoverFd.Kind.CONTAINER, file("container", "simulated VFIO container (demo host)"), null, -1, -1, List.of()));
            for (int g : devices.stream().map(Member::group).distinct().toList()) {
                fds.add(new HandoverFd(HandoverFd.Kind.GROUP, file("group-" + g, "simulated VFIO group " + g + " (demo host)"), null, g, -1, List.of()));
            }
            for (Member m : devices) {
                fds.add(new HandoverFd(HandoverFd.Kind.DEVICE, file("device-" + m.address(), "simulated VFIO device " + m.address() + " (demo host)"),
                        m.address().toString(), m.group(), -1, List.of(new HandoverFd.Region(0, 0x7, 4096, 0))));
            }
        } catch (IOException | RuntimeException e) {
            fds.forEach(f -> f.fd().close());
            throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
        }
        return DeviceDomain.of(backend, fds, () -> devices.stream().map(m -> m.address() + " reset (simulated)").toList(), () -> { });
    }

    private OwnedFd file(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, content + "\n");
        return Posix.open(p, LibcAbi.O_RDONLY);
    }
}
