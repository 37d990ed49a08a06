/* Layout report: sizes, offsets and constants as this C compiler sees them, so the Java mirrors
 * (VfioAbi, IommufdAbi, LibcAbi, Errno) are checked by a test instead of by eye.
 * Format, one item per line:  "struct NAME sizeof=N field=OFFSET ..." (sizeof is no field name)  and  "const NAME=VALUE". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "vb_uapi.h"

struct out {
	char *buf;
	long cap;
	long len;
};

static void put(struct out *o, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	long room = o->len < o->cap ? o->cap - o->len : 0;
	int n = vsnprintf(room ? o->buf + o->len : NULL, (size_t)room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += n;
}

#define S(t) put(o, "\nstruct %s sizeof=%zu", #t, sizeof(struct t))
#define F(t, f) put(o, " %s=%zu", #f, offsetof(struct t, f))
#define K(c) put(o, "\nconst %s=%lld", #c, (long long)(c))

static void structs(struct out *o) {
	S(vfio_group_status); F(vfio_group_status, argsz); F(vfio_group_status, flags);
	S(vfio_device_info); F(vfio_device_info, argsz); F(vfio_device_info, flags);
	F(vfio_device_info, num_regions); F(vfio_device_info, num_irqs); F(vfio_device_info, cap_offset);
	S(vfio_region_info); F(vfio_region_info, argsz); F(vfio_region_info, flags); F(vfio_region_info, index);
	F(vfio_region_info, cap_offset); F(vfio_region_info, size); F(vfio_region_info, offset);
	S(vfio_irq_info); F(vfio_irq_info, argsz); F(vfio_irq_info, flags); F(vfio_irq_info, index);
	F(vfio_irq_info, count);
	S(vfio_irq_set); F(vfio_irq_set, argsz); F(vfio_irq_set, flags); F(vfio_irq_set, index);
	F(vfio_irq_set, start); F(vfio_irq_set, count); F(vfio_irq_set, data);
	S(vfio_iommu_type1_dma_map); F(vfio_iommu_type1_dma_map, argsz); F(vfio_iommu_type1_dma_map, flags);
	F(vfio_iommu_type1_dma_map, vaddr); F(vfio_iommu_type1_dma_map, iova); F(vfio_iommu_type1_dma_map, size);
	S(vfio_iommu_type1_dma_unmap); F(vfio_iommu_type1_dma_unmap, argsz); F(vfio_iommu_type1_dma_unmap, flags);
	F(vfio_iommu_type1_dma_unmap, iova); F(vfio_iommu_type1_dma_unmap, size);
	S(vfio_device_bind_iommufd); F(vfio_device_bind_iommufd, argsz); F(vfio_device_bind_iommufd, flags);
	F(vfio_device_bind_iommufd, iommufd); F(vfio_device_bind_iommufd, out_devid);
	S(vfio_device_attach_iommufd_pt); F(vfio_device_attach_iommufd_pt, argsz);
	F(vfio_device_attach_iommufd_pt, flags); F(vfio_device_attach_iommufd_pt, pt_id);
	S(vfio_device_detach_iommufd_pt); F(vfio_device_detach_iommufd_pt, argsz);
	F(vfio_device_detach_iommufd_pt, flags);

	S(iommu_destroy); F(iommu_destroy, size); F(iommu_destroy, id);
	S(iommu_ioas_alloc); F(iommu_ioas_alloc, size); F(iommu_ioas_alloc, flags); F(iommu_ioas_alloc, out_ioas_id);
	S(iommu_iova_range); F(iommu_iova_range, start); F(iommu_iova_range, last);
	S(iommu_ioas_iova_ranges); F(iommu_ioas_iova_ranges, size); F(iommu_ioas_iova_ranges, ioas_id);
	F(iommu_ioas_iova_ranges, num_iovas); F(iommu_ioas_iova_ranges, __reserved);
	F(iommu_ioas_iova_ranges, allowed_iovas); F(iommu_ioas_iova_ranges, out_iova_alignment);
	S(iommu_ioas_map); F(iommu_ioas_map, size); F(iommu_ioas_map, flags); F(iommu_ioas_map, ioas_id);
	F(iommu_ioas_map, __reserved); F(iommu_ioas_map, user_va); F(iommu_ioas_map, length); F(iommu_ioas_map, iova);
	S(iommu_ioas_unmap); F(iommu_ioas_unmap, size); F(iommu_ioas_unmap, ioas_id); F(iommu_ioas_unmap, iova);
	F(iommu_ioas_unmap, length);
	S(iommu_option); F(iommu_option, size); F(iommu_option, option_id); F(iommu_option, op);
	F(iommu_option, __reserved); F(iommu_option, object_id); F(iommu_option, val64);
}

static void vfio_consts(struct out *o) {
	K(VFIO_API_VERSION); K(VFIO_TYPE1_IOMMU); K(VFIO_TYPE1v2_IOMMU); K(VFIO_NOIOMMU_IOMMU);
	K(VFIO_GET_API_VERSION); K(VFIO_CHECK_EXTENSION); K(VFIO_SET_IOMMU); K(VFIO_GROUP_GET_STATUS);
	K(VFIO_GROUP_SET_CONTAINER); K(VFIO_GROUP_UNSET_CONTAINER); K(VFIO_GROUP_GET_DEVICE_FD);
	K(VFIO_DEVICE_GET_INFO); K(VFIO_DEVICE_GET_REGION_INFO); K(VFIO_DEVICE_GET_IRQ_INFO);
	K(VFIO_DEVICE_SET_IRQS); K(VFIO_DEVICE_RESET); K(VFIO_IOMMU_MAP_DMA); K(VFIO_IOMMU_UNMAP_DMA);
	K(VFIO_DEVICE_BIND_IOMMUFD); K(VFIO_DEVICE_ATTACH_IOMMUFD_PT); K(VFIO_DEVICE_DETACH_IOMMUFD_PT);
	K(VFIO_GROUP_FLAGS_VIABLE); K(VFIO_GROUP_FLAGS_CONTAINER_SET);
	K(VFIO_DEVICE_FLAGS_RESET); K(VFIO_DEVICE_FLAGS_PCI);
	K(VFIO_REGION_INFO_FLAG_READ); K(VFIO_REGION_INFO_FLAG_WRITE); K(VFIO_REGION_INFO_FLAG_MMAP);
	K(VFIO_REGION_INFO_FLAG_CAPS);
	K(VFIO_IRQ_INFO_EVENTFD); K(VFIO_IRQ_INFO_MASKABLE); K(VFIO_IRQ_INFO_AUTOMASKED); K(VFIO_IRQ_INFO_NORESIZE);
	K(VFIO_IRQ_SET_DATA_NONE); K(VFIO_IRQ_SET_DATA_BOOL); K(VFIO_IRQ_SET_DATA_EVENTFD);
	K(VFIO_IRQ_SET_ACTION_MASK); K(VFIO_IRQ_SET_ACTION_UNMASK); K(VFIO_IRQ_SET_ACTION_TRIGGER);
	K(VFIO_DMA_MAP_FLAG_READ); K(VFIO_DMA_MAP_FLAG_WRITE);
	K(VFIO_PCI_BAR0_REGION_INDEX); K(VFIO_PCI_BAR5_REGION_INDEX); K(VFIO_PCI_ROM_REGION_INDEX);
	K(VFIO_PCI_CONFIG_REGION_INDEX); K(VFIO_PCI_VGA_REGION_INDEX);
	K(VFIO_PCI_INTX_IRQ_INDEX); K(VFIO_PCI_MSI_IRQ_INDEX); K(VFIO_PCI_MSIX_IRQ_INDEX);
	K(VFIO_PCI_ERR_IRQ_INDEX); K(VFIO_PCI_REQ_IRQ_INDEX);
}

static void iommufd_consts(struct out *o) {
	K(IOMMU_DESTROY); K(IOMMU_IOAS_ALLOC); K(IOMMU_IOAS_IOVA_RANGES); K(IOMMU_IOAS_MAP); K(IOMMU_IOAS_UNMAP);
	K(IOMMU_OPTION);
	K(IOMMU_IOAS_MAP_FIXED_IOVA); K(IOMMU_IOAS_MAP_WRITEABLE); K(IOMMU_IOAS_MAP_READABLE);
	K(IOMMU_OPTION_RLIMIT_MODE); K(IOMMU_OPTION_HUGE_PAGES); K(IOMMU_OPTION_OP_SET); K(IOMMU_OPTION_OP_GET);
}

static void libc_consts(struct out *o) {
	K(O_RDONLY); K(O_WRONLY); K(O_RDWR); K(O_CREAT); K(O_TRUNC); K(O_NONBLOCK);
	K(SOCK_STREAM); K(SOCK_SEQPACKET); K(SHUT_RD); K(SHUT_WR); K(SHUT_RDWR); K(AF_INET); K(AF_INET6);
	K(POLLIN); K(POLLOUT); K(POLLERR); K(POLLHUP); K(POLLNVAL);
	K(EFD_NONBLOCK); K(EFD_SEMAPHORE); K(EPOLLIN); K(EPOLL_CTL_ADD); K(EPOLL_CTL_DEL); K(RLIMIT_MEMLOCK); K(RLIM_INFINITY);
	K(SIGKILL); K(SIGTERM);
}

static void errno_consts(struct out *o) {
	K(EPERM); K(ENOENT); K(ESRCH); K(EINTR); K(EIO); K(ENXIO); K(E2BIG); K(EBADF); K(ECHILD); K(EAGAIN);
	K(ENOMEM); K(ENOBUFS); K(EACCES); K(EFAULT); K(EBUSY); K(EEXIST); K(ENODEV); K(ENOTDIR); K(EISDIR); K(EINVAL);
	K(ENFILE); K(EMFILE); K(ENOTTY); K(ENOSPC); K(ESPIPE); K(EROFS); K(EPIPE); K(ERANGE); K(ENAMETOOLONG);
	K(ENOSYS); K(ENOTSOCK); K(EMSGSIZE); K(EPROTONOSUPPORT); K(EOPNOTSUPP); K(EADDRINUSE); K(ENOTCONN);
	K(ETIMEDOUT); K(ECONNREFUSED); K(ECONNRESET); K(EOVERFLOW); K(ENOPROTOOPT);
}

/* Writes the report into buf (NUL-terminated when it fits); returns the length it needs. */
long vb_abi_report(char *buf, long cap) {
	struct out o = { buf, cap, 0 };
	put(&o, "shim");
	structs(&o);
	vfio_consts(&o);
	iommufd_consts(&o);
	libc_consts(&o);
	errno_consts(&o);
	put(&o, "\n");
	return o.len + 1;
}
