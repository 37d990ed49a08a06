#!/usr/bin/env bash
# Builds a minimal 6.12 kernel with IOMMUFD + VFIO cdev from Debian's linux-source-6.12 (no Debian
# kernel enables CONFIG_IOMMUFD). Everything is built in, so the initramfs needs no modules.
# Options: custom-kernel.options. Cached by: hash of those options, the linux-source-6.12 version apt would install, the gcc version.
source "$(dirname "$0")/common.sh"

options_file="$E2E_VM_DIR/custom-kernel.options"
options=$(sed 's/#.*//' "$options_file" | tr -s ' \t' '\n\n' | grep -v '^$')   # one per line: layout does not change the key
enable=$(for o in $options; do [[ $o == -* ]] || echo "$o"; done)
disable=$(for o in $options; do [[ $o == -* ]] && echo "${o#-}"; done)
# Bump when the build steps below change what gets built (comments do not count).
RECIPE=1

src_version=$(apt_candidate linux-source-6.12)
[ -n "$src_version" ] || { apt-get update -qq; src_version=$(apt_candidate linux-source-6.12); }
[ -n "$src_version" ] || die "apt knows no linux-source-6.12 (is bookworm-security in sources?)"
gcc_version=$(gcc -dumpfullversion)
key=$( { echo "$options"; echo "recipe $RECIPE"; echo "$src_version"; echo "$gcc_version"; } | sha256sum | cut -c1-16)
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
# shellcheck disable=SC2046
./scripts/config $(for o in $enable; do echo --enable "$o"; done) $(for o in $disable; do echo --disable "$o"; done)
make -s ARCH=x86_64 olddefconfig
wrong=""
for o in $enable; do grep -qx "CONFIG_$o=y" .config || wrong="$wrong $o"; done
for o in $disable; do grep -q "^CONFIG_$o=" .config && wrong="$wrong -$o"; done
[ -z "$wrong" ] || die "options not as asked after olddefconfig (dependencies missing?):$wrong"

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
