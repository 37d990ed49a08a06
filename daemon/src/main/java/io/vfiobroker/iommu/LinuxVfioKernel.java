package io.vfiobroker.iommu;

import io.vfiobroker.nativeshim.DeviceInfo;
import io.vfiobroker.nativeshim.IommufdAbi;
import io.vfiobroker.nativeshim.IommufdIoctls;
import io.vfiobroker.nativeshim.LibcAbi;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.Posix;
import io.vfiobroker.nativeshim.RegionInfo;
import io.vfiobroker.nativeshim.VfioAbi;
import io.vfiobroker.nativeshim.VfioIoctls;

import java.nio.file.Path;

/** The real kernel: each call one line into the native shim, with the context its errors have always named. */
public final class LinuxVfioKernel implements VfioKernel {

    @Override
    public Container openContainer(Path node) {
        return new Container(Posix.open(node, LibcAbi.O_RDWR), "container " + node);
    }

    @Override
    public Group openGroup(Path node, int group) {
        return new Group(Posix.open(node, LibcAbi.O_RDWR), group);
    }

    @Override
    public IommuFd openIommufd(Path node) {
        return new IommuFd(Posix.open(node, LibcAbi.O_RDWR), "iommufd " + node);
    }

    @Override
    public Device openCdev(Path node) {
        return new Device(Posix.open(node, LibcAbi.O_RDWR), node.getFileName().toString());
    }

    @Override
    public OwnedFd dup(OwnedFd fd) {
        return fd.duplicate();
    }

    @Override
    public int getApiVersion(Container c) {
        return VfioIoctls.getApiVersion(c.fd().fd(), c.name());
    }

    @Override
    public boolean checkExtension(Container c, int extension) {
        return VfioIoctls.checkExtension(c.fd().fd(), extension, c.name());
    }

    @Override
    public int groupGetStatus(Group g) {
        return VfioIoctls.getStatus(g.fd().fd(), g.name()).flags;
    }

    @Override
    public void groupSetContainer(Group g, Container c) {
        VfioIoctls.setContainer(g.fd().fd(), c.fd().fd(), g.name());
    }

    @Override
    public void groupUnsetContainer(Group g) {
        VfioIoctls.unsetContainer(g.fd().fd(), g.name());
    }

    @Override
    public void setIommu(Container c, int type) {
        VfioIoctls.setIommu(c.fd().fd(), type, c.name());
    }

    @Override
    public Device groupGetDeviceFd(Group g, String address) {
        return new Device(new OwnedFd(VfioIoctls.getDeviceFd(g.fd().fd(), address, g.name() + ", device " + address)), address);
    }

    @Override
    public DeviceInfo deviceGetInfo(Device d) {
        VfioAbi.vfio_device_info i = VfioIoctls.getInfo(d.fd().fd(), "device " + d.name());
        return new DeviceInfo(i.flags, i.num_regions, i.num_irqs);
    }

    @Override
    public RegionInfo deviceGetRegionInfo(Device d, int index) {
        VfioAbi.vfio_region_info r = VfioIoctls.getRegionInfo(d.fd().fd(), index, "device " + d.name());
        return new RegionInfo(r.index, r.flags, r.size, r.offset);
    }

    @Override
    public void deviceReset(Device d) {
        VfioIoctls.reset(d.fd().fd(), "device " + d.name());
    }

    @Override
    public void iommuMapDma(Container c, long vaddr, long iova, long size, int flags) {
        VfioAbi.vfio_iommu_type1_dma_map m = new VfioAbi.vfio_iommu_type1_dma_map();
        m.flags = flags;
        m.vaddr = vaddr;
        m.iova = iova;
        m.size = size;
        VfioIoctls.mapDma(c.fd().fd(), m, c.name() + String.format(", iova 0x%x size 0x%x", iova, size));
    }

    @Override
    public void iommuOptionRlimitMode(IommuFd fd, boolean perProcess) {
        IommufdIoctls.setOption(fd.fd().fd(), IommufdAbi.IOMMU_OPTION_RLIMIT_MODE, 0, perProcess ? 1 : 0, fd.name());
    }

    @Override
    public int ioasAlloc(IommuFd fd) {
        return IommufdIoctls.ioasAlloc(fd.fd().fd(), fd.name());
    }

    @Override
    public void ioasMap(IommuFd fd, int ioas, long vaddr, long iova, long length, int flags) {
        IommufdAbi.iommu_ioas_map m = new IommufdAbi.iommu_ioas_map();
        m.flags = flags;
        m.ioas_id = ioas;
        m.user_va = vaddr;
        m.length = length;
        m.iova = iova;
        IommufdIoctls.ioasMap(fd.fd().fd(), m, fd.name() + ", ioas " + ioas + String.format(", iova 0x%x size 0x%x", iova, length));
    }

    @Override
    public int deviceBindIommufd(Device d, IommuFd fd) {
        return VfioIoctls.bindIommufd(d.fd().fd(), fd.fd().fd(), "device " + d.name());
    }

    @Override
    public int deviceAttachIommufdPt(Device d, int ptId) {
        return VfioIoctls.attachIommufdPt(d.fd().fd(), ptId, "device " + d.name() + ", pt " + ptId);
    }
}
