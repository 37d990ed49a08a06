#!/usr/bin/env bash
# Fetches and unpacks a Debian kernel package (never installs it on the host).
# Usage: fetch-debian-kernel.sh debian-6.1|debian-6.12
source "$(dirname "$0")/common.sh"

name=${1:?usage: fetch-debian-kernel.sh debian-6.1|debian-6.12}
case "$name" in
  debian-6.1)  meta=linux-image-amd64 ;;
  debian-6.12) meta=linux-image-6.12-amd64 ;;
  *) die "unknown kernel $name" ;;
esac

# The meta package names the current ABI, e.g. linux-image-6.1.0-56-amd64.
# awk reads to the end: an early exit would SIGPIPE apt-cache and fail the pipeline.
resolve() { apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ && !p { print $2; p = 1 }'; }
pkg=$(resolve)
[ -n "$pkg" ] || { apt-get update -qq; pkg=$(resolve); }
if [ -z "$pkg" ] && [ "$name" = debian-6.12 ]; then
  pkg=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' | awk '{print $1}' | sort -V | tail -1)
fi
[ -n "$pkg" ] || die "cannot resolve the package for $name from $meta"
version=$(apt_candidate "$pkg")
entry="$CACHE/kernels/${pkg}_$version"

if [ -f "$entry/vmlinuz" ]; then
  log "$name cached: $entry"
  set_pointer "$name" "$entry"
  exit 0
fi

log "downloading $pkg=$version"
tmp="$entry.tmp"
rm -rf "$tmp" && mkdir -p "$tmp/dl" && chmod 0777 "$tmp/dl"   # apt's _apt user downloads into it
(cd "$tmp/dl" && apt-get download -q "$pkg=$version" >/dev/null)
dpkg -x "$tmp"/dl/*.deb "$tmp/root"
kver=$(ls "$tmp/root/lib/modules")
mv "$tmp/root/boot/vmlinuz-$kver" "$tmp/vmlinuz"
mv "$tmp/root/boot/config-$kver" "$tmp/config"
mv "$tmp/root/lib/modules/$kver" "$tmp/modules"
echo "$kver" > "$tmp/kver"
echo "$version" > "$tmp/version"
rm -rf "$tmp/dl" "$tmp/root"
mv -T "$tmp" "$entry"
set_pointer "$name" "$entry"
log "$name ready: $entry ($kver)"
