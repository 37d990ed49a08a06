package io.vfiobroker.iommu;

import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.nativeshim.IommuFd;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.RegionInfo;
import io.vfiobroker.nativeshim.VfioAbi;
import io.vfiobroker.nativeshim.VfioContainer;
import io.vfiobroker.nativeshim.VfioDevice;
import io.vfiobroker.nativeshim.VfioGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The real thing: VFIO container/group ioctls, or iommufd plus vfio cdevs, on the host's /dev. */
public final class VfioDomainOpener implements DomainOpener {

    private static final Logger log = LoggerFactory.getLogger(VfioDomainOpener.class);
    private final SysfsHost host;

    public VfioDomainOpener(SysfsHost host) {
        this.host = host;
    }

    private Path dev(String rel) {
        return host.root().resolve(rel);
    }

    @Override
    public List<String> availableBackends() {
        List<String> out = new ArrayList<>();
        if (host.exists("dev/vfio/vfio")) out.add("legacy");
        // /dev/vfio/devices/ only appears once a device is on vfio-pci; the vfio-dev class says cdevs are built in.
        if (host.exists("dev/iommu") && host.exists("sys/class/vfio-dev")) out.add("iommufd");
        return out;
    }

    @Override
    public DeviceDomain open(List<Member> devices, String backend) {
        return switch (backend) {
            case "legacy" -> openLegacy(devices);
            case "iommufd" -> openIommufd(devices);
            default -> throw new IllegalArgumentException("unknown IOMMU backend '" + backend + "'");
        };
    }

    private DeviceDomain openLegacy(List<Member> devices) {
        List<AutoCloseable> opened = new ArrayList<>();
        List<HandoverFd> fds = new ArrayList<>();
        List<VfioDevice> deviceObjects = new ArrayList<>();
        try {
            VfioContainer container = VfioContainer.open(dev("dev/vfio/vfio"));
            opened.add(container);
            if (!container.checkExtension(VfioAbi.VFIO_TYPE1v2_IOMMU)) {
                throw new DomainException("VFIO_CHECK_EXTENSION: the kernel offers no VFIO_TYPE1v2_IOMMU (is vfio_iommu_type1 loaded?)",
                        "ENODEV", null);
            }
            List<Integer> groups = devices.stream().map(Member::group).distinct().toList();
            List<VfioGroup> groupObjects = new ArrayList<>();
            boolean iommuSet = false;
            for (int g : groups) {
                VfioGroup group = VfioGroup.open(dev("dev/vfio/" + g), g);
                opened.add(group);
                if (!group.isViable()) {
                    throw new DomainException("VFIO_GROUP_GET_STATUS: group " + g + " is not viable: a member is bound to a host driver",
                            "EPERM", null);
                }
                group.setContainer(container);
                groupObjects.add(group);
                if (!iommuSet) {
                    try {
                        container.setIommu(VfioAbi.VFIO_TYPE1v2_IOMMU);
                    } catch (NativeException e) {
                        throw explainSetIommu(e);
                    }
                    iommuSet = true;
                }
            }
            fds.add(new HandoverFd(HandoverFd.Kind.CONTAINER, dup(container.fd()), null, -1, -1, List.of()));
            for (VfioGroup g : groupObjects) fds.add(new HandoverFd(HandoverFd.Kind.GROUP, dup(g.fd()), null, g.groupId(), -1, List.of()));
            for (Member m : devices) {
                VfioGroup g = groupObjects.get(groups.indexOf(m.group()));
                VfioDevice d = g.openDevice(m.address().toString());
                opened.add(d);
                deviceObjects.add(d);
                fds.add(new HandoverFd(HandoverFd.Kind.DEVICE, dup(d.fd()), m.address().toString(), m.group(), -1, regions(d)));
            }
            log.info("event=domain-opened backend=legacy groups={} devices={}", groups, devices.size());
            return new Domain("legacy", fds, deviceObjects, opened);
        } catch (NativeException e) {
            closeAll(fds, opened);
            throw new DomainException(e.getMessage(), e.errnoName(), e);
        } catch (RuntimeException e) {
            closeAll(fds, opened);
            throw e;
        }
    }

    private DomainException explainSetIommu(NativeException e) {
        if ("EPERM".equals(e.errnoName())) {
            String sw = host.read("sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts").orElse("?");
            return new DomainException(e.getMessage() + ": the kernel refuses because this platform does not remap interrupts and "
                    + "vfio_iommu_type1 allow_unsafe_interrupts is " + sw + " (an admin can set it: "
                    + "echo Y > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts)", "EPERM", e);
        }
        return new DomainException(e.getMessage(), e.errnoName(), e);
    }

    private DeviceDomain openIommufd(List<Member> devices) {
        List<AutoCloseable> opened = new ArrayList<>();
        List<HandoverFd> fds = new ArrayList<>();
        List<VfioDevice> deviceObjects = new ArrayList<>();
        try {
            IommuFd iommufd = IommuFd.open(dev("dev/iommu"));
            opened.add(iommufd);
            // Per-process accounting so the client's own RLIMIT_MEMLOCK applies; only possible (and only needs the
            // daemon's CAP_SYS_RESOURCE) while the iommufd holds no objects, so first.
            iommufd.setRlimitMode(true);
            IommuFd.Ioas ioas = iommufd.allocIoas();
            fds.add(new HandoverFd(HandoverFd.Kind.IOMMUFD, dup(iommufd.fd()), null, -1, ioas.id(), List.of()));
            for (Member m : devices) {
                String cdev = cdevName(m).orElseThrow(() -> new DomainException(m.address()
                        + " has no vfio cdev (sys/bus/pci/devices/" + m.address() + "/vfio-dev/ is empty): the kernel lacks VFIO_DEVICE_CDEV",
                        "ENODEV", null));
                VfioDevice d = VfioDevice.openCdev(dev("dev/vfio/devices/" + cdev));
                opened.add(d);
                deviceObjects.add(d);
                try {
                    d.bindIommufd(iommufd);
                } catch (NativeException e) {
                    if ("EPERM".equals(e.errnoName())) {
                        String sw = host.read("sys/module/iommufd/parameters/allow_unsafe_interrupts").orElse("?");
                        throw new DomainException(e.getMessage() + ": the kernel refuses because this platform does not remap interrupts "
                                + "and iommufd allow_unsafe_interrupts is " + sw + " (a separate switch from vfio_iommu_type1's: "
                                + "echo Y > /sys/module/iommufd/parameters/allow_unsafe_interrupts)", "EPERM", e);
                    }
                    throw e;
                }
                d.attachIommufdPt(ioas.id());
                fds.add(new HandoverFd(HandoverFd.Kind.DEVICE, dup(d.fd()), m.address().toString(), m.group(), ioas.id(), regions(d)));
            }
            log.info("event=domain-opened backend=iommufd ioas={} devices={}", ioas.id(), devices.size());
            return new Domain("iommufd", fds, deviceObjects, opened);
        } catch (NativeException e) {
            closeAll(fds, opened);
            throw new DomainException(e.getMessage(), e.errnoName(), e);
        } catch (RuntimeException e) {
            closeAll(fds, opened);
            throw e;
        }
    }

    private Optional<String> cdevName(Member m) {
        return host.list("sys/bus/pci/devices/" + m.address() + "/vfio-dev").stream()
                .filter(n -> n.matches("vfio[0-9]+")).findFirst();
    }

    private static List<HandoverFd.Region> regions(VfioDevice d) {
        List<HandoverFd.Region> out = new ArrayList<>();
        int n = d.info().numRegions();
        for (int i = 0; i < n; i++) {
            try {
                RegionInfo r = d.regionInfo(i);
                out.add(new HandoverFd.Region(r.index(), r.flags(), r.size(), r.offset()));
            } catch (NativeException e) {
                // VGA and other optional regions answer EINVAL on devices without them
            }
        }
        return out;
    }

    private static OwnedFd dup(int fd) {
        return new OwnedFd(fd).duplicate();
    }

    private static void closeAll(List<HandoverFd> fds, List<AutoCloseable> opened) {
        for (HandoverFd f : fds) f.fd().close();
        for (int i = opened.size() - 1; i >= 0; i--) {
            try {
                opened.get(i).close();
            } catch (Exception ignored) {
                // already failing; the first error is the one reported
            }
        }
    }

    private record Domain(String backend, List<HandoverFd> fds, List<VfioDevice> devices, List<AutoCloseable> opened)
            implements DeviceDomain {
        @Override
        public List<String> resetDevices() {
            List<String> out = new ArrayList<>();
            for (VfioDevice d : devices) {
                try {
                    if (d.info().resettable()) {
                        d.reset();
                        out.add(d.name() + " reset");
                    } else {
                        out.add(d.name() + " has no reset method");
                    }
                } catch (NativeException e) {
                    out.add(d.name() + " reset failed: " + e.getMessage());
                }
            }
            return out;
        }

        @Override
        public void close() {
            closeAll(fds, opened);
        }
    }
}
