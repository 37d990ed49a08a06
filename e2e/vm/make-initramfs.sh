#!/usr/bin/env bash
# Builds (or reuses) the busybox initramfs for one cached kernel and prints its path.
# Scenarios are not baked in: the guest reads them from the project share, so editing a
# scenario needs no rebuild. Usage: make-initramfs.sh debian-6.1|debian-6.12|custom-6.12
source "$(dirname "$0")/common.sh"

name=${1:?usage: make-initramfs.sh <kernel>}
kdir=$(readlink -f "$CACHE/$name" || true)
[ -n "$kdir" ] && [ -d "$kdir" ] || die "kernel $name not in $CACHE (run e2e/vm/prepare.sh)"

busybox=$(command -v busybox) || die "busybox missing (run prepare.sh)"
cpio_help=$("$busybox" cpio --help 2>&1 || true)   # captured: grep -q on a pipe could SIGPIPE busybox
[[ $cpio_help == *-H* ]] || die "$busybox lacks cpio -H (need busybox-static)"

bb_banner=$("$busybox" 2>&1 || true); bb_banner=${bb_banner%%$'\n'*}   # no "| head": SIGPIPE under pipefail
key=$( { echo "$kdir"; cat "$0" "$E2E_VM_DIR/guest-init.sh"; echo "$bb_banner"; } | sha256sum | cut -c1-16)
out="$CACHE/initramfs/$name-$key.cpio.gz"
if [ -f "$out" ]; then echo "$out"; exit 0; fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"   # mktemp's 0700 would become the guest's / and make unprivileged opens fail with EACCES
mkdir -p "$stage"/{bin,sbin,etc,proc,sys,dev,tmp,run,usr,results,modules,home/e2e,root}
cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
  [ -e "$stage/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
done
# Host binaries from the /usr share find their loader and libraries through these.
ln -s usr/lib "$stage/lib"; ln -s usr/lib64 "$stage/lib64"
cp "$E2E_VM_DIR/guest-init.sh" "$stage/init"; chmod 0755 "$stage/init"

# Users: root, and uid 1000 for unprivileged clients (busybox su and the JVM need passwd entries).
cat > "$stage/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
e2e:x:1000:1000:e2e unprivileged client:/home/e2e:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
printf 'root:x:0:\ne2e:x:1000:\nnogroup:x:65534:\n' > "$stage/etc/group"
printf 'root::0:0:99999:7:::\ne2e:!:0:0:99999:7:::\n' > "$stage/etc/shadow"; chmod 0600 "$stage/etc/shadow"
printf 'passwd: files\ngroup: files\nhosts: files\n' > "$stage/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' > "$stage/etc/hosts"
echo vfio-e2e > "$stage/etc/hostname"
chown 1000:1000 "$stage/home/e2e"; chmod 0700 "$stage/root"; chmod 1777 "$stage/tmp"
# Debian's JDK links its conf files into /etc, and /usr/bin/java goes through /etc/alternatives.
for d in /etc/java-* /etc/alternatives; do [ -d "$d" ] && cp -a "$d" "$stage/etc/"; done
[ -f /etc/ld.so.cache ] && cp /etc/ld.so.cache "$stage/etc/"

# Modules, in dependency order from each module's depends= field (the .deb ships no modules.dep).
: > "$stage/etc/modules.order"
if [ -d "$kdir/modules" ]; then
  declare -A file_of=() done_=()
  while IFS= read -r f; do
    n=$(basename "$f"); n=${n%%.ko*}; file_of[${n//-/_}]=$f
  done < <(find "$kdir/modules/kernel" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst')
  builtin=$(sed 's|.*/||; s|\.ko$||; s|-|_|g' "$kdir/modules/modules.builtin")
  add() {   # add <module> <required:1|0>
    local m=${1//-/_} dep
    [ -n "${done_[$m]:-}" ] && return 0
    if [ -z "${file_of[$m]:-}" ]; then
      grep -qx "$m" <<<"$builtin" && { done_[$m]=builtin; return 0; }
      [ "$2" = 1 ] && die "module $m neither in $kdir/modules nor built in"
      return 0
    fi
    done_[$m]=loading
    for dep in $(modinfo -F depends "${file_of[$m]}" | tr ',' ' '); do add "$dep" 1; done
    case "${file_of[$m]}" in   # busybox insmod cannot read compressed modules
      *.xz)  xz -dc "${file_of[$m]}" > "$stage/modules/$m.ko" ;;
      *.zst) zstd -qdc "${file_of[$m]}" > "$stage/modules/$m.ko" ;;
      *)     cp "${file_of[$m]}" "$stage/modules/$m.ko" ;;
    esac
    echo "$m" >> "$stage/etc/modules.order"
    done_[$m]=loaded
  }
  for m in virtio_pci 9pnet_virtio 9p vfio vfio_iommu_type1 vfio_pci; do add "$m" 1; done
  add iommufd 0   # absent from Debian's configs; loaded where a kernel has it as a module
  # The daemon names an HTTP caller by its socket (inet_diag, like SO_PEERCRED) and fails closed without it.
  for m in inet_diag tcp_diag; do add "$m" 1; done
fi

mkdir -p "$CACHE/initramfs"
(cd "$stage" && find . | "$busybox" cpio -o -H newc 2>/dev/null) | gzip -1 > "$out.$$.tmp"
# Parallel VMs may build the same image at once: each writes its own temp file, the rename is atomic,
# and only images of other keys are pruned.
mv "$out.$$.tmp" "$out"
for old in "$CACHE/initramfs/$name-"*.cpio.gz; do [ "$old" = "$out" ] || rm -f "$old"; done
log "initramfs for $name: $out (modules: $(tr '\n' ' ' < "$stage/etc/modules.order"))"
echo "$out"
