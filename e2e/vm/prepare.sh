#!/usr/bin/env bash
# One entry point before the VM tests: installs missing tools (apt), fetches the two Debian kernels,
# builds the iommufd kernel and the initramfs images, all cached in $VFIO_BROKER_E2E_CACHE
# (default /var/cache/vfio-broker-e2e). Idempotent: a warm run only checks, offline.
source "$(dirname "$0")/common.sh"

# Runtime: qemu, busybox (init + cpio), pciutils (guest truth), kmod (modinfo), xz (.ko.xz), curl and jq (REST in the guest).
# Custom kernel build: gcc, make, flex, bison, bc, libelf-dev (objtool), libssl-dev.
packages="qemu-system-x86 busybox-static pciutils kmod xz-utils curl jq gcc make flex bison bc libelf-dev libssl-dev"
missing=""
for p in $packages; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
  [ "$(id -u)" = 0 ] || die "missing packages:$missing (run as root, or install them)"
  log "installing:$missing"
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

mkdir -p "$CACHE"
exec 9> "$CACHE/.prepare.lock"
flock 9   # two CI jobs sharing a cache wait for each other instead of building twice
"$E2E_VM_DIR/fetch-debian-kernel.sh" debian-6.1
"$E2E_VM_DIR/fetch-debian-kernel.sh" debian-6.12
"$E2E_VM_DIR/build-custom-kernel.sh"
for k in $E2E_KERNELS; do "$E2E_VM_DIR/make-initramfs.sh" "$k" >/dev/null; done
log "ready: $(for k in $E2E_KERNELS; do printf '%s ' "$(readlink "$CACHE/$k")"; done)"
