package io.vfiobroker.nativeshim;

import static io.vfiobroker.nativeshim.IommufdAbi.*;
import static io.vfiobroker.nativeshim.NativeException.check;

import com.sun.jna.Memory;
import io.vfiobroker.nativeshim.IommufdAbi.iommu_destroy;
import io.vfiobroker.nativeshim.IommufdAbi.iommu_ioas_alloc;
import io.vfiobroker.nativeshim.IommufdAbi.iommu_ioas_iova_ranges;
import io.vfiobroker.nativeshim.IommufdAbi.iommu_ioas_map;
import io.vfiobroker.nativeshim.IommufdAbi.iommu_ioas_unmap;
import io.vfiobroker.nativeshim.IommufdAbi.iommu_iova_range;
import io.vfiobroker.nativeshim.IommufdAbi.iommu_option;
import java.util.ArrayList;
import java.util.List;

/** The iommufd ioctls, one line each, errors naming the ioctl and {@code context}. */
public final class IommufdIoctls {

    private IommufdIoctls() {
    }

    /** Destroys any iommufd object (IOAS, HWPT) by id. */
    public static void destroy(int iommufd, int id, String context) {
        iommu_destroy d = new iommu_destroy();
        d.id = id;
        check(Shim.vb_ioctl_ptr(iommufd, IOMMU_DESTROY, d), "IOMMU_DESTROY", context);
    }

    /** Allocates an IO address space; returns its id. */
    public static int ioasAlloc(int iommufd, String context) {
        iommu_ioas_alloc a = new iommu_ioas_alloc();
        check(Shim.vb_ioctl_ptr(iommufd, IOMMU_IOAS_ALLOC, a), "IOMMU_IOAS_ALLOC", context);
        return a.out_ioas_id;
    }

    /** The IOVA ranges that may be mapped in an IOAS (narrowed by each attached device). */
    public static List<iommu_iova_range> ioasIovaRanges(int iommufd, int ioasId, String context) {
        for (int cap = 8; ; cap *= 4) {
            iommu_iova_range proto = new iommu_iova_range();
            try (Memory m = new Memory((long) proto.size() * cap)) {
                m.clear();
                iommu_ioas_iova_ranges r = new iommu_ioas_iova_ranges();
                r.ioas_id = ioasId;
                r.num_iovas = cap;
                r.allowed_iovas = com.sun.jna.Pointer.nativeValue(m);
                int rc = Shim.vb_ioctl_ptr(iommufd, IOMMU_IOAS_IOVA_RANGES, r);
                if (rc == -Errno.EMSGSIZE && r.num_iovas > cap) {
                    continue; // more ranges than room: retry with a bigger array
                }
                check(rc, "IOMMU_IOAS_IOVA_RANGES", context);
                List<iommu_iova_range> out = new ArrayList<>();
                for (int i = 0; i < r.num_iovas; i++) {
                    iommu_iova_range e = new iommu_iova_range();
                    e.start = m.getLong((long) i * proto.size());
                    e.last = m.getLong((long) i * proto.size() + 8);
                    out.add(e);
                }
                return out;
            }
        }
    }

    /** Maps user memory into an IOAS; with IOMMU_IOAS_MAP_FIXED_IOVA at {@code map.iova}, else the kernel picks and writes it back. */
    public static void ioasMap(int iommufd, iommu_ioas_map map, String context) {
        check(Shim.vb_ioctl_ptr(iommufd, IOMMU_IOAS_MAP, map), "IOMMU_IOAS_MAP", context);
    }

    /** Unmaps a range; the kernel writes back the bytes unmapped into {@code length}. */
    public static void ioasUnmap(int iommufd, iommu_ioas_unmap unmap, String context) {
        check(Shim.vb_ioctl_ptr(iommufd, IOMMU_IOAS_UNMAP, unmap), "IOMMU_IOAS_UNMAP", context);
    }

    /** Sets an option ({@link IommufdAbi#IOMMU_OPTION_RLIMIT_MODE} is global: objectId 0). */
    public static void setOption(int iommufd, int optionId, int objectId, long value, String context) {
        iommu_option o = new iommu_option();
        o.option_id = optionId;
        o.op = (short) IOMMU_OPTION_OP_SET;
        o.object_id = objectId;
        o.val64 = value;
        check(Shim.vb_ioctl_ptr(iommufd, IOMMU_OPTION, o), "IOMMU_OPTION", context);
    }

    /** Reads an option's current value. */
    public static long getOption(int iommufd, int optionId, int objectId, String context) {
        iommu_option o = new iommu_option();
        o.option_id = optionId;
        o.op = (short) IOMMU_OPTION_OP_GET;
        o.object_id = objectId;
        check(Shim.vb_ioctl_ptr(iommufd, IOMMU_OPTION, o), "IOMMU_OPTION", context);
        return o.val64;
    }
}
