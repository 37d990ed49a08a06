#!/usr/bin/env bash
# Installs a built checkout system-wide: the jar and its libraries, the vfio-broker command, a class data archive
# recorded for the installed jar, the unit and its config. VFIO_BROKER_ROOT installs below another root instead of /
# (the install test does; the archive is then recorded for the jar as it sits there).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
root=${VFIO_BROKER_ROOT:-}
cli="$src/daemon/target/cli"
[ -f "$cli/vfio-broker-exec.jar" ] || { echo "install: build first (mvn -DskipTests install)" >&2; exit 1; }
lib="$root/usr/local/lib/vfio-broker"
# The same layout bin/vfio-broker runs from in the checkout, which the benchmarks measure: the thin jar with lib/.
rm -rf "$lib/lib"
install -D -m 0644 "$cli/vfio-broker-exec.jar" "$lib/vfio-broker-exec.jar"
mkdir -p "$lib/lib"
install -m 0644 "$cli"/lib/*.jar "$lib/lib/"
install -D -m 0755 "$src/bin/vfio-broker" "$lib/bin/vfio-broker"
mkdir -p "$root/usr/local/bin"
ln -sf "$lib/bin/vfio-broker" "$root/usr/local/bin/vfio-broker"
if ! "$src/deploy/cds-archive.sh" "$lib/vfio-broker-exec.jar" "$lib/vfio-broker.jsa"; then
  echo "install: no class data archive; the daemon starts without it" >&2
fi
install -D -m 0644 "$src/deploy/vfio-broker.service" "$root/etc/systemd/system/vfio-broker.service"
install -D -m 0644 "$src/deploy/vfio-broker.tmpfiles.conf" "$root/etc/tmpfiles.d/vfio-broker.conf"
install -D -m 0644 "$src/deploy/modules-load.conf" "$root/etc/modules-load.d/vfio-broker.conf"
[ -f "$root/etc/vfio-broker/daemon.properties" ] || install -D -m 0644 "$src/deploy/daemon.properties" "$root/etc/vfio-broker/daemon.properties"
echo "installed; start with: systemctl daemon-reload && systemctl enable --now vfio-broker"
