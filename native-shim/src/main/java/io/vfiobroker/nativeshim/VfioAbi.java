package io.vfiobroker.nativeshim;

import com.sun.jna.Pointer;
import com.sun.jna.Structure.FieldOrder;
import java.util.List;

/**
 * linux/vfio.h as used here: constants, ioctl numbers (in kernel order) and structs, named as the
 * kernel names them. Struct class names are the kernel's on purpose, so each is found by grep.
 * Every value and layout is compared with the C compiler's by {@code AbiLayoutTest}.
 */
@SuppressWarnings({"checkstyle:TypeName", "checkstyle:MemberName"})
public final class VfioAbi {
    private VfioAbi() {
    }

    static final int VFIO_TYPE = ';';
    static final int VFIO_BASE = 100;

    /** The kernel's {@code _IO(type, nr)}: no size or direction bits, as every VFIO/iommufd ioctl. */
    static int io(int type, int nr) {
        return (type << 8) | nr;
    }

    public static final int VFIO_API_VERSION = 0;
    public static final int VFIO_TYPE1_IOMMU = 1;
    public static final int VFIO_TYPE1v2_IOMMU = 3;
    public static final int VFIO_NOIOMMU_IOMMU = 8;

    public static final int VFIO_GET_API_VERSION = io(VFIO_TYPE, VFIO_BASE + 0);
    public static final int VFIO_CHECK_EXTENSION = io(VFIO_TYPE, VFIO_BASE + 1);
    public static final int VFIO_SET_IOMMU = io(VFIO_TYPE, VFIO_BASE + 2);
    public static final int VFIO_GROUP_GET_STATUS = io(VFIO_TYPE, VFIO_BASE + 3);
    public static final int VFIO_GROUP_SET_CONTAINER = io(VFIO_TYPE, VFIO_BASE + 4);
    public static final int VFIO_GROUP_UNSET_CONTAINER = io(VFIO_TYPE, VFIO_BASE + 5);
    public static final int VFIO_GROUP_GET_DEVICE_FD = io(VFIO_TYPE, VFIO_BASE + 6);
    public static final int VFIO_DEVICE_GET_INFO = io(VFIO_TYPE, VFIO_BASE + 7);
    public static final int VFIO_DEVICE_GET_REGION_INFO = io(VFIO_TYPE, VFIO_BASE + 8);
    public static final int VFIO_DEVICE_GET_IRQ_INFO = io(VFIO_TYPE, VFIO_BASE + 9);
    public static final int VFIO_DEVICE_SET_IRQS = io(VFIO_TYPE, VFIO_BASE + 10);
    public static final int VFIO_DEVICE_RESET = io(VFIO_TYPE, VFIO_BASE + 11);
    public static final int VFIO_IOMMU_MAP_DMA = io(VFIO_TYPE, VFIO_BASE + 13);
    public static final int VFIO_IOMMU_UNMAP_DMA = io(VFIO_TYPE, VFIO_BASE + 14);
    public static final int VFIO_DEVICE_BIND_IOMMUFD = io(VFIO_TYPE, VFIO_BASE + 18);
    public static final int VFIO_DEVICE_ATTACH_IOMMUFD_PT = io(VFIO_TYPE, VFIO_BASE + 19);
    public static final int VFIO_DEVICE_DETACH_IOMMUFD_PT = io(VFIO_TYPE, VFIO_BASE + 20);

    public static final int VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
    public static final int VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

    public static final int VFIO_DEVICE_FLAGS_RESET = 1 << 0;
    public static final int VFIO_DEVICE_FLAGS_PCI = 1 << 1;

    public static final int VFIO_REGION_INFO_FLAG_READ = 1 << 0;
    public static final int VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
    public static final int VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
    public static final int VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;

    public static final int VFIO_IRQ_INFO_EVENTFD = 1 << 0;
    public static final int VFIO_IRQ_INFO_MASKABLE = 1 << 1;
    public static final int VFIO_IRQ_INFO_AUTOMASKED = 1 << 2;
    public static final int VFIO_IRQ_INFO_NORESIZE = 1 << 3;

    public static final int VFIO_IRQ_SET_DATA_NONE = 1 << 0;
    public static final int VFIO_IRQ_SET_DATA_BOOL = 1 << 1;
    public static final int VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
    public static final int VFIO_IRQ_SET_ACTION_MASK = 1 << 3;
    public static final int VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4;
    public static final int VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;

    public static final int VFIO_DMA_MAP_FLAG_READ = 1 << 0;
    public static final int VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;

    // vfio-pci region and irq indexes (enums in vfio.h).
    public static final int VFIO_PCI_BAR0_REGION_INDEX = 0;
    public static final int VFIO_PCI_BAR5_REGION_INDEX = 5;
    public static final int VFIO_PCI_ROM_REGION_INDEX = 6;
    public static final int VFIO_PCI_CONFIG_REGION_INDEX = 7;
    public static final int VFIO_PCI_VGA_REGION_INDEX = 8;
    public static final int VFIO_PCI_INTX_IRQ_INDEX = 0;
    public static final int VFIO_PCI_MSI_IRQ_INDEX = 1;
    public static final int VFIO_PCI_MSIX_IRQ_INDEX = 2;
    public static final int VFIO_PCI_ERR_IRQ_INDEX = 3;
    public static final int VFIO_PCI_REQ_IRQ_INDEX = 4;

    /** Every struct mirrored here, for the layout test. */
    static List<AbiStruct> all() {
        return List.of(new vfio_group_status(), new vfio_device_info(), new vfio_region_info(), new vfio_irq_info(),
                new vfio_irq_set(), new vfio_iommu_type1_dma_map(), new vfio_iommu_type1_dma_unmap(),
                new vfio_device_bind_iommufd(), new vfio_device_attach_iommufd_pt(),
                new vfio_device_detach_iommufd_pt());
    }

    @FieldOrder({"argsz", "flags"})
    public static final class vfio_group_status extends AbiStruct {
        public int argsz = size();
        public int flags;
    }

    @FieldOrder({"argsz", "flags", "num_regions", "num_irqs", "cap_offset"})
    public static final class vfio_device_info extends AbiStruct {
        public int argsz = size();
        public int flags;
        public int num_regions;
        public int num_irqs;
        public int cap_offset;
    }

    @FieldOrder({"argsz", "flags", "index", "cap_offset", "size", "offset"})
    public static final class vfio_region_info extends AbiStruct {
        public int argsz = size();
        public int flags;
        public int index;
        public int cap_offset;
        public long size;
        public long offset;
    }

    @FieldOrder({"argsz", "flags", "index", "count"})
    public static final class vfio_irq_info extends AbiStruct {
        public int argsz = size();
        public int flags;
        public int index;
        public int count;
    }

    /** Header only; the {@code data[]} payload (one s32 eventfd per vector) follows it in the same memory. */
    @FieldOrder({"argsz", "flags", "index", "start", "count"})
    public static final class vfio_irq_set extends AbiStruct {
        public int argsz;
        public int flags;
        public int index;
        public int start;
        public int count;

        public vfio_irq_set() {
            argsz = size();
        }

        public vfio_irq_set(Pointer memory) {
            super(memory);
        }

        @Override
        public List<String> flexibleArrays() {
            return List.of("data");
        }
    }

    @FieldOrder({"argsz", "flags", "vaddr", "iova", "size"})
    public static final class vfio_iommu_type1_dma_map extends AbiStruct {
        public int argsz = size();
        public int flags;
        public long vaddr;
        public long iova;
        public long size;
    }

    /** Without the trailing {@code data[]} (dirty bitmap), which this project does not use. */
    @FieldOrder({"argsz", "flags", "iova", "size"})
    public static final class vfio_iommu_type1_dma_unmap extends AbiStruct {
        public int argsz = size();
        public int flags;
        public long iova;
        public long size;
    }

    @FieldOrder({"argsz", "flags", "iommufd", "out_devid"})
    public static final class vfio_device_bind_iommufd extends AbiStruct {
        public int argsz = size();
        public int flags;
        public int iommufd;
        public int out_devid;
    }

    /** The 6.12 layout; 6.13 appends {@code pasid}, and both kernels accept this shorter argsz. */
    @FieldOrder({"argsz", "flags", "pt_id"})
    public static final class vfio_device_attach_iommufd_pt extends AbiStruct {
        public int argsz = size();
        public int flags;
        public int pt_id;
    }

    @FieldOrder({"argsz", "flags"})
    public static final class vfio_device_detach_iommufd_pt extends AbiStruct {
        public int argsz = size();
        public int flags;
    }
}
