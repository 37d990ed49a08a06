package io.vfiobroker.nativeshim;

import com.sun.jna.Structure.FieldOrder;
import java.util.List;

/**
 * linux/iommufd.h (6.12) as used here: ioctl numbers, options and structs, named as the kernel
 * names them. Checked against the C compiler by {@code AbiLayoutTest}.
 */
public final class IommufdAbi {
    private IommufdAbi() {
    }

    static final int IOMMUFD_TYPE = ';';

    public static final int IOMMU_DESTROY = VfioAbi.io(IOMMUFD_TYPE, 0x80);
    public static final int IOMMU_IOAS_ALLOC = VfioAbi.io(IOMMUFD_TYPE, 0x81);
    public static final int IOMMU_IOAS_IOVA_RANGES = VfioAbi.io(IOMMUFD_TYPE, 0x84);
    public static final int IOMMU_IOAS_MAP = VfioAbi.io(IOMMUFD_TYPE, 0x85);
    public static final int IOMMU_IOAS_UNMAP = VfioAbi.io(IOMMUFD_TYPE, 0x86);
    public static final int IOMMU_OPTION = VfioAbi.io(IOMMUFD_TYPE, 0x87);

    public static final int IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0;
    public static final int IOMMU_IOAS_MAP_WRITEABLE = 1 << 1;
    public static final int IOMMU_IOAS_MAP_READABLE = 1 << 2;

    /** Value 0 (default): charge the user's locked_vm; 1: charge the process (needs CAP_SYS_RESOURCE). */
    public static final int IOMMU_OPTION_RLIMIT_MODE = 0;
    public static final int IOMMU_OPTION_HUGE_PAGES = 1;
    public static final int IOMMU_OPTION_OP_SET = 0;
    public static final int IOMMU_OPTION_OP_GET = 1;

    static List<AbiStruct> all() {
        return List.of(new iommu_destroy(), new iommu_ioas_alloc(), new iommu_iova_range(), new iommu_ioas_iova_ranges(),
                new iommu_ioas_map(), new iommu_ioas_unmap(), new iommu_option());
    }

    @FieldOrder({"size", "id"})
    public static final class iommu_destroy extends AbiStruct {
        public int size = size();
        public int id;
    }

    @FieldOrder({"size", "flags", "out_ioas_id"})
    public static final class iommu_ioas_alloc extends AbiStruct {
        public int size = size();
        public int flags;
        public int out_ioas_id;
    }

    @FieldOrder({"start", "last"})
    public static final class iommu_iova_range extends AbiStruct {
        public long start;
        public long last;
    }

    @FieldOrder({"size", "ioas_id", "num_iovas", "__reserved", "allowed_iovas", "out_iova_alignment"})
    public static final class iommu_ioas_iova_ranges extends AbiStruct {
        public int size = size();
        public int ioas_id;
        public int num_iovas;
        public int __reserved;
        public long allowed_iovas;
        public long out_iova_alignment;
    }

    @FieldOrder({"size", "flags", "ioas_id", "__reserved", "user_va", "length", "iova"})
    public static final class iommu_ioas_map extends AbiStruct {
        public int size = size();
        public int flags;
        public int ioas_id;
        public int __reserved;
        public long user_va;
        public long length;
        public long iova;
    }

    @FieldOrder({"size", "ioas_id", "iova", "length"})
    public static final class iommu_ioas_unmap extends AbiStruct {
        public int size = size();
        public int ioas_id;
        public long iova;
        public long length;
    }

    @FieldOrder({"size", "option_id", "op", "__reserved", "object_id", "val64"})
    public static final class iommu_option extends AbiStruct {
        public int size = size();
        public int option_id;
        public short op;
        public short __reserved;
        public int object_id;
        public long val64;
    }
}
