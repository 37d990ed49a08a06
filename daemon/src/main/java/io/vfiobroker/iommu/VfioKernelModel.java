package io.vfiobroker.iommu;

import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.interrupts.InterruptChips;
import io.vfiobroker.interrupts.UnsafeInterruptSwitch;
import io.vfiobroker.nativeshim.DeviceInfo;
import io.vfiobroker.nativeshim.Errno;
import io.vfiobroker.nativeshim.LibcAbi;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.Posix;
import io.vfiobroker.nativeshim.RegionInfo;
import io.vfiobroker.nativeshim.VfioAbi;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

import static io.vfiobroker.iommu.ModelObjects.ContainerFile;
import static io.vfiobroker.iommu.ModelObjects.DeviceFile;
import static io.vfiobroker.iommu.ModelObjects.GroupFile;
import static io.vfiobroker.iommu.ModelObjects.IommufdFile;

/**
 * The VFIO and iommufd calls answered from kernel state kept in memory, with the errnos drivers/vfio and
 * drivers/iommu/iommufd give. Topology (groups, members, drivers, cdevs) and the allow_unsafe_interrupts switches
 * are read from the host tree, as the kernel reads its own; fds are real (read-only opens of the tree's nodes) so
 * they can be handed over. A file's state is released once every fd of it is closed, as on the kernel's release.
 * Serves the demo host and the unit tests of {@link VfioDomainOpener}; never a real root.
 */
public final class VfioKernelModel implements VfioKernel {

    private static final long PAGE = 4096;
    /** vfio-pci's region and irq index counts (BAR0-5, ROM, config, VGA; INTx, MSI, MSI-X, ERR, REQ). */
    private static final int PCI_REGIONS = 9, PCI_IRQS = 5;

    private final SysfsHost host;
    private final boolean interruptsIsolated;
    private final ModelObjects objects = new ModelObjects();
    private final ArrayDeque<String> calls = new ArrayDeque<>();
    private long callCount;
    private final Map<String, Integer> resets = new ConcurrentHashMap<>();
    private long memlockLimit = Long.MAX_VALUE;
    private Path standIns;
    private long failAt = -1;
    private int failErrno;

    /** {@code interruptsIsolated}: whether the platform remaps MSIs, which both gates below check first. */
    public VfioKernelModel(SysfsHost host, boolean interruptsIsolated) {
        if (host.realHost()) throw new IllegalArgumentException("the VFIO kernel model never runs on the real root /");
        this.host = host;
        this.interruptsIsolated = interruptsIsolated;
    }

    /** A model of the kernel the generated tree describes: MSIs isolated when its /proc/interrupts shows IR- chips. */
    public static VfioKernelModel of(SysfsHost host) {
        return new VfioKernelModel(host, Boolean.TRUE.equals(InterruptChips.read(host).kernelRemaps()));
    }

    /** Fds open files in {@code dir} that say what they stand for ("device 0000:07:02.0"), not the tree's nodes. */
    public synchronized VfioKernelModel standInFiles(Path dir) {
        standIns = dir;
        return this;
    }

    /** The caller's RLIMIT_MEMLOCK in bytes, against which DMA maps pin. */
    public synchronized void setMemlockLimit(long bytes) {
        memlockLimit = bytes;
    }

    /** Failure injection: the {@code n}-th call from now (1 = the next) fails with {@code errno} and changes nothing. */
    public synchronized void failCall(int n, int errno) {
        failAt = callCount + n;
        failErrno = errno;
    }

    /** The last calls (up to 4096), by kernel name ("open /dev/vfio/7" is "open group"). */
    public synchronized List<String> calls() {
        return List.copyOf(calls);
    }

    /** How often VFIO_DEVICE_RESET reached {@code address}. */
    public int resets(String address) {
        return resets.getOrDefault(address, 0);
    }

    /** Open files, groups in containers, bound devices, IOASes and pinned bytes; "idle" when nothing is held. */
    public synchronized String state() {
        objects.reap();
        return objects.describe();
    }

    /** Fds this model handed out (opens, device fds, dups) that nobody closed yet. */
    public synchronized int openFds() {
        objects.reap();
        return objects.openFds();
    }

    private void enter(String call, String context) {
        objects.reap();
        if (calls.size() == 4096) calls.removeFirst();
        calls.addLast(call);
        if (++callCount == failAt) {
            failAt = -1;
            boolean open = call.startsWith("open ");
            throw new NativeException(open ? "open " + context : call, failErrno, open ? "" : context);
        }
    }

    /**
     * The tree's own node read-only, or with {@link #standInFiles} a file whose text says what it stands for; the
     * open file is recorded as {@code file}, as the kernel's open creates it.
     */
    private OwnedFd openNode(Path node, String what, Function<OwnedFd, ModelObjects.File> file) {
        Path dev = host.deviceNode("iommu").getParent(); // the tree's dev/: the model opens nothing of the real host
        if (!node.toAbsolutePath().normalize().startsWith(dev)) throw new IllegalArgumentException(node + " is outside " + dev);
        OwnedFd fd = standIns == null ? Posix.open(node, LibcAbi.O_RDONLY) : ModelObjects.standIn(standIns, what);
        objects.add(file.apply(fd));
        return fd;
    }

    @Override
    public synchronized Container openContainer(Path node) {
        enter("open container", node.toString());
        return new Container(openNode(node, "container", ContainerFile::new), "container " + node);
    }

    @Override
    public synchronized Group openGroup(Path node, int group) {
        enter("open group", node.toString());
        if (objects.group(group) != null) throw new NativeException("open " + node, Errno.EBUSY, "");
        return new Group(openNode(node, "group " + group, fd -> new GroupFile(fd, group, node)), group);
    }

    @Override
    public synchronized IommuFd openIommufd(Path node) {
        enter("open iommufd", node.toString());
        return new IommuFd(openNode(node, "iommufd", IommufdFile::new), "iommufd " + node);
    }

    @Override
    public synchronized Device openCdev(Path node) {
        enter("open cdev", node.toString());
        String cdev = node.getFileName().toString();
        String address = host.list("sys/bus/pci/devices").stream()
                .filter(a -> host.list("sys/bus/pci/devices/" + a + "/vfio-dev").contains(cdev)).findFirst()
                .orElseThrow(() -> new NativeException("open " + node, Errno.ENODEV, ""));
        return new Device(openNode(node, "device " + address, fd -> new DeviceFile(fd, address, groupOf(address), null)), cdev);
    }

    @Override
    public synchronized OwnedFd dup(OwnedFd fd) {
        enter("dup", "fd " + fd.fd());
        return objects.dup(fd);
    }

    @Override
    public synchronized int getApiVersion(Container c) {
        enter("VFIO_GET_API_VERSION", c.name());
        objects.container(c);
        return VfioAbi.VFIO_API_VERSION;
    }

    @Override
    public synchronized boolean checkExtension(Container c, int extension) {
        enter("VFIO_CHECK_EXTENSION", c.name());
        objects.container(c);
        return (extension == VfioAbi.VFIO_TYPE1_IOMMU || extension == VfioAbi.VFIO_TYPE1v2_IOMMU) && host.exists("sys/module/vfio_iommu_type1");
    }

    @Override
    public synchronized int groupGetStatus(Group g) {
        enter("VFIO_GROUP_GET_STATUS", g.name());
        GroupFile gf = objects.group(g);
        if (gf.container != null) return VfioAbi.VFIO_GROUP_FLAGS_VIABLE | VfioAbi.VFIO_GROUP_FLAGS_CONTAINER_SET;
        return viable(gf.id) ? VfioAbi.VFIO_GROUP_FLAGS_VIABLE : 0;
    }

    @Override
    public synchronized void groupSetContainer(Group g, Container c) {
        enter("VFIO_GROUP_SET_CONTAINER", g.name());
        GroupFile gf = objects.group(g);
        ContainerFile cf = objects.container(c);
        if (gf.container != null) throw new NativeException("VFIO_GROUP_SET_CONTAINER", Errno.EINVAL, g.name());
        // A member on a host driver holds the group's DMA ownership: the claim fails.
        if (!viable(gf.id)) throw new NativeException("VFIO_GROUP_SET_CONTAINER", Errno.EPERM, g.name());
        // With the IOMMU already set, this group is attached now, so the interrupt gate is here.
        if (cf.iommuSet && !safe(UnsafeInterruptSwitch.TYPE1)) throw new NativeException("VFIO_GROUP_SET_CONTAINER", Errno.EPERM, g.name());
        gf.container = cf;
        cf.groups.add(gf);
    }

    @Override
    public synchronized void groupUnsetContainer(Group g) {
        enter("VFIO_GROUP_UNSET_CONTAINER", g.name());
        GroupFile gf = objects.group(g);
        if (gf.container == null) throw new NativeException("VFIO_GROUP_UNSET_CONTAINER", Errno.EINVAL, g.name());
        if (objects.devicesOpenedThrough(gf)) throw new NativeException("VFIO_GROUP_UNSET_CONTAINER", Errno.EBUSY, g.name());
        objects.detach(gf);
    }

    @Override
    public synchronized void setIommu(Container c, int type) {
        enter("VFIO_SET_IOMMU", c.name());
        ContainerFile cf = objects.container(c);
        if (cf.groups.isEmpty() || cf.iommuSet) throw new NativeException("VFIO_SET_IOMMU", Errno.EINVAL, c.name());
        if (type != VfioAbi.VFIO_TYPE1_IOMMU && type != VfioAbi.VFIO_TYPE1v2_IOMMU || !host.exists("sys/module/vfio_iommu_type1")) {
            throw new NativeException("VFIO_SET_IOMMU", Errno.ENODEV, c.name());
        }
        if (!safe(UnsafeInterruptSwitch.TYPE1)) throw new NativeException("VFIO_SET_IOMMU", Errno.EPERM, c.name());
        cf.iommuSet = true;
    }

    @Override
    public synchronized Device groupGetDeviceFd(Group g, String address) {
        String ctx = g.name() + ", device " + address;
        enter("VFIO_GROUP_GET_DEVICE_FD", ctx);
        GroupFile gf = objects.group(g);
        boolean member = host.list("sys/kernel/iommu_groups/" + gf.id + "/devices").contains(address);
        if (!member || !"vfio-pci".equals(driver(address))) throw new NativeException("VFIO_GROUP_GET_DEVICE_FD", Errno.ENODEV, ctx);
        if (gf.container == null || !gf.container.iommuSet) throw new NativeException("VFIO_GROUP_GET_DEVICE_FD", Errno.EINVAL, ctx);
        return new Device(openNode(gf.node, "device " + address, fd -> new DeviceFile(fd, address, gf.id, gf)), address);
    }

    @Override
    public synchronized DeviceInfo deviceGetInfo(Device d) {
        enter("VFIO_DEVICE_GET_INFO", "device " + d.name());
        objects.device(d);
        return new DeviceInfo(VfioAbi.VFIO_DEVICE_FLAGS_PCI | VfioAbi.VFIO_DEVICE_FLAGS_RESET, PCI_REGIONS, PCI_IRQS);
    }

    @Override
    public synchronized RegionInfo deviceGetRegionInfo(Device d, int index) {
        enter("VFIO_DEVICE_GET_REGION_INFO", "device " + d.name());
        objects.device(d);
        // No legacy VGA range on these devices, and nothing past it.
        if (index < 0 || index >= VfioAbi.VFIO_PCI_VGA_REGION_INDEX) throw new NativeException("VFIO_DEVICE_GET_REGION_INFO", Errno.EINVAL, "device " + d.name());
        long offset = (long) index << 40;
        int rw = VfioAbi.VFIO_REGION_INFO_FLAG_READ | VfioAbi.VFIO_REGION_INFO_FLAG_WRITE;
        if (index == VfioAbi.VFIO_PCI_BAR0_REGION_INDEX) return new RegionInfo(index, rw | VfioAbi.VFIO_REGION_INFO_FLAG_MMAP, PAGE, offset);
        if (index == VfioAbi.VFIO_PCI_CONFIG_REGION_INDEX) return new RegionInfo(index, rw, PAGE, offset);
        return new RegionInfo(index, 0, 0, offset);
    }

    @Override
    public synchronized void deviceReset(Device d) {
        enter("VFIO_DEVICE_RESET", "device " + d.name());
        resets.merge(objects.device(d).address, 1, Integer::sum);
    }

    @Override
    public synchronized void iommuMapDma(Container c, long vaddr, long iova, long size, int flags) {
        String ctx = c.name() + String.format(", iova 0x%x size 0x%x", iova, size);
        enter("VFIO_IOMMU_MAP_DMA", ctx);
        ContainerFile cf = objects.container(c);
        // Without an IOMMU driver the container passes no ioctl on: EINVAL.
        boolean prot = (flags & (VfioAbi.VFIO_DMA_MAP_FLAG_READ | VfioAbi.VFIO_DMA_MAP_FLAG_WRITE)) != 0;
        if (!cf.iommuSet || !prot || ModelObjects.badRange(vaddr, iova, size)) throw new NativeException("VFIO_IOMMU_MAP_DMA", Errno.EINVAL, ctx);
        if (ModelObjects.overlaps(cf.maps, iova, size)) throw new NativeException("VFIO_IOMMU_MAP_DMA", Errno.EEXIST, ctx);
        pin(size, "VFIO_IOMMU_MAP_DMA", ctx);
        cf.maps.add(new long[] {iova, size});
    }

    @Override
    public synchronized void iommuOptionRlimitMode(IommuFd fd, boolean perProcess) {
        enter("IOMMU_OPTION", fd.name());
        IommufdFile f = objects.iommufd(fd);
        // The accounting mode changes only while the iommufd holds no object.
        if (f.objects > 0) throw new NativeException("IOMMU_OPTION", Errno.EBUSY, fd.name());
        f.perProcess = perProcess;
    }

    @Override
    public synchronized int ioasAlloc(IommuFd fd) {
        enter("IOMMU_IOAS_ALLOC", fd.name());
        IommufdFile f = objects.iommufd(fd);
        int id = f.newObject();
        f.ioas.add(id);
        return id;
    }

    @Override
    public synchronized void ioasMap(IommuFd fd, int ioas, long vaddr, long iova, long length, int flags) {
        String ctx = fd.name() + ", ioas " + ioas + String.format(", iova 0x%x size 0x%x", iova, length);
        enter("IOMMU_IOAS_MAP", ctx);
        IommufdFile f = objects.iommufd(fd);
        if (!f.ioas.contains(ioas)) throw new NativeException("IOMMU_IOAS_MAP", Errno.ENOENT, ctx);
        if (ModelObjects.badRange(vaddr, iova, length)) throw new NativeException("IOMMU_IOAS_MAP", Errno.EINVAL, ctx);
        if (ModelObjects.overlaps(f.maps, iova, length)) throw new NativeException("IOMMU_IOAS_MAP", Errno.EEXIST, ctx);
        pin(length, "IOMMU_IOAS_MAP", ctx);
        f.maps.add(new long[] {iova, length});
    }

    @Override
    public synchronized int deviceBindIommufd(Device d, IommuFd fd) {
        String ctx = "device " + d.name();
        enter("VFIO_DEVICE_BIND_IOMMUFD", ctx);
        DeviceFile df = objects.device(d);
        IommufdFile f = objects.iommufd(fd);
        if (df.via != null || df.boundTo != null) throw new NativeException("VFIO_DEVICE_BIND_IOMMUFD", Errno.EINVAL, ctx);
        // A group open through /dev/vfio/N blocks its devices' cdevs.
        if (objects.group(df.group) != null) throw new NativeException("VFIO_DEVICE_BIND_IOMMUFD", Errno.EBUSY, ctx);
        if (!safe(UnsafeInterruptSwitch.IOMMUFD)) throw new NativeException("VFIO_DEVICE_BIND_IOMMUFD", Errno.EPERM, ctx);
        df.boundTo = f;
        df.devId = f.newObject();
        return df.devId;
    }

    @Override
    public synchronized int deviceAttachIommufdPt(Device d, int ptId) {
        String ctx = "device " + d.name() + ", pt " + ptId;
        enter("VFIO_DEVICE_ATTACH_IOMMUFD_PT", ctx);
        DeviceFile df = objects.device(d);
        if (df.boundTo == null) throw new NativeException("VFIO_DEVICE_ATTACH_IOMMUFD_PT", Errno.EINVAL, ctx);
        if (!df.boundTo.ioas.contains(ptId)) throw new NativeException("VFIO_DEVICE_ATTACH_IOMMUFD_PT", Errno.ENOENT, ctx);
        df.pt = ptId;
        // Attaching to an IOAS gives the device a hardware page table, an object of its own.
        return df.boundTo.newObject();
    }

    private void pin(long bytes, String call, String ctx) {
        if (objects.pinned() + bytes > memlockLimit) throw new NativeException(call, Errno.ENOMEM, ctx);
    }

    /** Both gates: isolated MSIs, or the module's switch set to Y. */
    private boolean safe(UnsafeInterruptSwitch sw) {
        return interruptsIsolated || Boolean.TRUE.equals(sw.allowed(host));
    }

    /** Every member on vfio-pci, pci-stub, a bridge's pcieport, or no driver. */
    private boolean viable(int group) {
        return host.list("sys/kernel/iommu_groups/" + group + "/devices").stream()
                .map(this::driver).allMatch(d -> d == null || d.equals("vfio-pci") || d.equals("pci-stub") || d.equals("pcieport"));
    }

    private String driver(String address) {
        return host.linkName("sys/bus/pci/devices/" + address + "/driver").orElse(null);
    }

    private int groupOf(String address) {
        return host.linkName("sys/bus/pci/devices/" + address + "/iommu_group").map(Integer::parseInt).orElse(-1);
    }
}
