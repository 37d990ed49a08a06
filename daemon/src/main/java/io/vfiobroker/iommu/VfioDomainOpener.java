package io.vfiobroker.iommu;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.interrupts.UnsafeInterruptSwitch;
import io.vfiobroker.nativeshim.Errno;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.VfioAbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * Opens the domain with the VFIO container/group calls, or iommufd plus vfio cdevs, on the host's /dev. Every step
 * that takes kernel state is undone, in reverse, when a later one fails. The calls go through a {@link VfioKernel}:
 * the real one, or the in-memory model on a generated host.
 */
public final class VfioDomainOpener implements DomainOpener {

    private static final Logger log = LoggerFactory.getLogger(VfioDomainOpener.class);
    private final SysfsHost host;
    private final DeviceNodes nodes;
    private final VfioKernel kernel;

    public VfioDomainOpener(SysfsHost host) {
        this(host, new LinuxVfioKernel());
    }

    public VfioDomainOpener(SysfsHost host, VfioKernel kernel) {
        this.host = host;
        this.nodes = new DeviceNodes(host);
        this.kernel = kernel;
    }

    @Override
    public List<Backend> availableBackends() {
        return nodes.available();
    }

    @Override
    public DeviceDomain open(List<Member> devices, Backend backend) {
        Undo undo = new Undo(kernel);
        try {
            DeviceDomain d = switch (backend) {
                case LEGACY -> openLegacy(devices, undo);
                case IOMMUFD -> openIommufd(devices, undo);
            };
            // lease-granted (info, and audited) follows with the same facts; this line is for tracing the opens
            if (log.isDebugEnabled()) {
                log.debug("event=domain-opened backend={} groups={} devices={}", backend.wireName(),
                        devices.stream().map(Member::group).distinct().toList(), devices.size());
            }
            return d;
        } catch (NativeException e) {
            undo.run();
            throw new DomainException(e.getMessage(), e.errnoName(), e);
        } catch (RuntimeException e) {
            undo.run();
            throw e;
        }
    }

    private DeviceDomain openLegacy(List<Member> devices, Undo undo) {
        VfioKernel.Container container = kernel.openContainer(nodes.open(nodes.shared(Backend.LEGACY)));
        undo.close(container.fd());
        int version = kernel.getApiVersion(container);
        if (version != VfioAbi.VFIO_API_VERSION) {
            throw new IllegalStateException(container.name() + " speaks VFIO API " + version + ", expected " + VfioAbi.VFIO_API_VERSION);
        }
        if (!kernel.checkExtension(container, VfioAbi.VFIO_TYPE1v2_IOMMU)) {
            throw new DomainException("VFIO_CHECK_EXTENSION: the kernel offers no VFIO_TYPE1v2_IOMMU (is vfio_iommu_type1 loaded?)",
                    "ENODEV", null);
        }
        List<Integer> groups = devices.stream().map(Member::group).distinct().toList();
        List<VfioKernel.Group> groupFds = new ArrayList<>();
        for (int g : groups) {
            VfioKernel.Group group = kernel.openGroup(nodes.open(nodes.group(g)), g);
            undo.close(group.fd());
            if ((kernel.groupGetStatus(group) & VfioAbi.VFIO_GROUP_FLAGS_VIABLE) == 0) {
                throw new DomainException("VFIO_GROUP_GET_STATUS: group " + g + " is not viable: a member is bound to a host driver",
                        "EPERM", null);
            }
            kernel.groupSetContainer(group, container);
            undo.add(() -> kernel.groupUnsetContainer(group));
            groupFds.add(group);
            if (groupFds.size() == 1) {
                try {
                    kernel.setIommu(container, VfioAbi.VFIO_TYPE1v2_IOMMU);
                } catch (NativeException e) {
                    throw explained(e, UnsafeInterruptSwitch.TYPE1);
                }
            }
        }
        undo.handover(HandoverFd.Kind.CONTAINER, container.fd(), null, -1, -1, List.of());
        for (VfioKernel.Group g : groupFds) undo.handover(HandoverFd.Kind.GROUP, g.fd(), null, g.id(), -1, List.of());
        for (Member m : devices) {
            VfioKernel.Device d = kernel.groupGetDeviceFd(groupFds.get(groups.indexOf(m.group())), m.address().toString());
            undo.close(d.fd());
            undo.devices.add(d);
            undo.handover(HandoverFd.Kind.DEVICE, d.fd(), m.address().toString(), m.group(), -1, regions(d));
        }
        return new Domain(Backend.LEGACY, kernel, undo);
    }

    private DeviceDomain openIommufd(List<Member> devices, Undo undo) {
        VfioKernel.IommuFd iommufd = kernel.openIommufd(nodes.open(nodes.shared(Backend.IOMMUFD)));
        undo.close(iommufd.fd());
        // Per-process accounting so the client's own RLIMIT_MEMLOCK applies; only possible (and only needs the
        // daemon's CAP_SYS_RESOURCE) while the iommufd holds no objects, so first.
        kernel.iommuOptionRlimitMode(iommufd, true);
        int ioas = kernel.ioasAlloc(iommufd);
        undo.handover(HandoverFd.Kind.IOMMUFD, iommufd.fd(), null, -1, ioas, List.of());
        for (Member m : devices) {
            String cdev = nodes.device(Backend.IOMMUFD, m.address(), m.group()).orElseThrow(() -> new DomainException(m.address()
                    + " has no vfio cdev (sys/bus/pci/devices/" + m.address() + "/vfio-dev/ is empty): the kernel lacks VFIO_DEVICE_CDEV",
                    "ENODEV", null));
            VfioKernel.Device d = kernel.openCdev(nodes.open(cdev));
            undo.close(d.fd());
            undo.devices.add(d);
            try {
                kernel.deviceBindIommufd(d, iommufd);
            } catch (NativeException e) {
                throw explained(e, UnsafeInterruptSwitch.IOMMUFD);
            }
            kernel.deviceAttachIommufdPt(d, ioas);
            undo.handover(HandoverFd.Kind.DEVICE, d.fd(), m.address().toString(), m.group(), ioas, regions(d));
        }
        return new Domain(Backend.IOMMUFD, kernel, undo);
    }

    /** The kernel's EPERM at an interrupt gate, with why and the switch that changes it; other errors as they are. */
    private DomainException explained(NativeException e, UnsafeInterruptSwitch sw) {
        if (e.errno() != Errno.EPERM) return new DomainException(e.getMessage(), e.errnoName(), e);
        return new DomainException(e.getMessage() + ": " + sw.kernelRefused(host), "EPERM", e);
    }

    private List<HandoverFd.Region> regions(VfioKernel.Device d) {
        List<HandoverFd.Region> out = new ArrayList<>();
        int n = kernel.deviceGetInfo(d).numRegions();
        for (int i = 0; i < n; i++) {
            try {
                var r = kernel.deviceGetRegionInfo(d, i);
                out.add(new HandoverFd.Region(r.index(), r.flags(), r.size(), r.offset()));
            } catch (NativeException e) {
                // VGA and other optional regions answer EINVAL on devices without them
            }
        }
        return out;
    }

    /** What an open took so far, undone in reverse: the handover copies first, then each step's own undo. */
    private static final class Undo {
        final VfioKernel kernel;
        final List<HandoverFd> fds = new ArrayList<>();
        final List<Runnable> steps = new ArrayList<>();
        final List<VfioKernel.Device> devices = new ArrayList<>();

        Undo(VfioKernel kernel) {
            this.kernel = kernel;
        }

        void close(OwnedFd fd) {
            steps.add(fd::close);
        }

        void add(Runnable step) {
            steps.add(step);
        }

        void handover(HandoverFd.Kind kind, OwnedFd fd, String device, int group, int ioas, List<HandoverFd.Region> regions) {
            fds.add(new HandoverFd(kind, kernel.dup(fd), device, group, ioas, regions));
        }

        void run() {
            for (HandoverFd f : fds) f.fd().close();
            for (int i = steps.size() - 1; i >= 0; i--) {
                try {
                    steps.get(i).run();
                } catch (RuntimeException ignored) {
                    // already failing or ending; the first error is the one reported
                }
            }
        }
    }

    private record Domain(Backend backend, VfioKernel kernel, Undo undo) implements DeviceDomain {
        @Override
        public List<HandoverFd> fds() {
            return undo.fds;
        }

        @Override
        public List<String> resetDevices() {
            List<String> out = new ArrayList<>();
            for (VfioKernel.Device d : undo.devices) {
                try {
                    if (kernel.deviceGetInfo(d).resettable()) {
                        kernel.deviceReset(d);
                        out.add(d.name() + " reset");
                    } else {
                        out.add(d.name() + " has no reset method");
                    }
                } catch (NativeException e) {
                    out.add(d.name() + " reset failed: " + e.getMessage());
                } catch (IllegalStateException e) {
                    out.add(d.name() + " reset failed: the domain is closed");
                }
            }
            return out;
        }

        @Override
        public void close() {
            undo.run();
        }
    }
}
