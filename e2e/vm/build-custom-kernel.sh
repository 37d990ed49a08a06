#!/usr/bin/env bash
# Builds a minimal 6.12 kernel with IOMMUFD + VFIO cdev from Debian's linux-source-6.12 (no Debian
# kernel enables CONFIG_IOMMUFD). Everything is built in, so the initramfs needs no modules.
# Cached by: hash of this script, the linux-source-6.12 version apt would install, the gcc version.
source "$(dirname "$0")/common.sh"

# Built-in options the VM and a JVM inside it need; each must end up =y or the build fails.
OPTIONS="
64BIT PCI PCI_MSI PCI_MMCONFIG ACPI IOMMU_SUPPORT INTEL_IOMMU INTEL_IOMMU_DEFAULT_ON IRQ_REMAP X86_X2APIC
IOMMUFD VFIO VFIO_GROUP VFIO_CONTAINER VFIO_IOMMU_TYPE1 VFIO_DEVICE_CDEV VFIO_PCI VFIO_PCI_CORE
VIRTIO_MENU VIRTIO_PCI NET NETWORK_FILESYSTEMS NET_9P NET_9P_VIRTIO 9P_FS
DEVTMPFS DEVTMPFS_MOUNT BLK_DEV_INITRD RD_GZIP TTY SERIAL_8250 SERIAL_8250_CONSOLE PRINTK PRINTK_TIME
BINFMT_ELF BINFMT_SCRIPT PROC_FS PROC_SYSCTL SYSFS TMPFS SHMEM MULTIUSER FILE_LOCKING FHANDLE
POSIX_TIMERS HIGH_RES_TIMERS ADVISE_SYSCALLS
FUTEX EPOLL EVENTFD SIGNALFD TIMERFD MEMFD_CREATE AIO SYSVIPC MEMBARRIER RSEQ UNIX INET NETDEVICES
"

src_version=$(apt_candidate linux-source-6.12)
[ -n "$src_version" ] || { apt-get update -qq; src_version=$(apt_candidate linux-source-6.12); }
[ -n "$src_version" ] || die "apt knows no linux-source-6.12 (is bookworm-security in sources?)"
gcc_version=$(gcc -dumpfullversion)
key=$( { sha256sum < "$0"; echo "$src_version"; echo "$gcc_version"; } | sha256sum | cut -c1-16)
entry="$CACHE/kernels/custom-6.12-$src_version-$key"

if [ -f "$entry/bzImage" ]; then
  log "custom 6.12 kernel cached: $entry"
  set_pointer custom-6.12 "$entry"
  exit 0
fi

for tool in make gcc flex bison bc; do command -v "$tool" >/dev/null || die "$tool missing (run prepare.sh)"; done
[ -f /usr/include/libelf.h ] || die "libelf-dev missing (run prepare.sh)"

work="$CACHE/build/custom-6.12"
rm -rf "$work" && mkdir -p "$work/dl" && chmod 0777 "$work/dl"   # apt's _apt user downloads into it
log "downloading linux-source-6.12=$src_version"
(cd "$work/dl" && apt-get download -q "linux-source-6.12=$src_version" >/dev/null)
dpkg -x "$work"/dl/linux-source-6.12_*.deb "$work/deb"
rm -rf "$work/dl"
log "unpacking source"
tar -C "$work" -xf "$work"/deb/usr/src/linux-source-6.12.tar.xz
rm -rf "$work/deb"
cd "$work"/linux-source-6.12

make -s ARCH=x86_64 tinyconfig
# shellcheck disable=SC2086
./scripts/config $(for o in $OPTIONS; do printf -- '--enable %s ' "$o"; done) \
  --disable MODULES --disable IOMMUFD_VFIO_CONTAINER
make -s ARCH=x86_64 olddefconfig
missing=""
for o in $OPTIONS; do grep -qx "CONFIG_$o=y" .config || missing="$missing $o"; done
[ -z "$missing" ] || die "options not =y after olddefconfig:$missing"

log "building bzImage with $(nproc) jobs (about 10 minutes on 2 cores)"
started=$(date +%s)
make -s ARCH=x86_64 -j"$(nproc)" bzImage
make -s ARCH=x86_64 headers
log "bzImage built in $(( $(date +%s) - started )) s"

tmp="$entry.tmp"
rm -rf "$tmp" && mkdir -p "$tmp"
cp arch/x86/boot/bzImage "$tmp/bzImage"
cp .config "$tmp/config"
# uapi headers (iommufd.h, vfio.h) for checking the shim's own definitions against the kernel's.
cp -r usr/include "$tmp/headers"
echo "$src_version" > "$tmp/version"
mv -T "$tmp" "$entry"
cd / && rm -rf "$work"
set_pointer custom-6.12 "$entry"
for old in "$CACHE"/kernels/custom-6.12-*; do   # superseded by a new key: never used again
  [ "$old" = "$entry" ] || rm -rf "$old"
done
log "custom 6.12 kernel ready: $entry"
