#!/usr/bin/env bash
# Installs a built checkout system-wide: the jar, the vfio-broker command, the unit and its config.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
jar="$src/daemon/target/vfio-broker-exec.jar"
[ -f "$jar" ] || { echo "install: build first (mvn -DskipTests install)" >&2; exit 1; }
install -D -m 0644 "$jar" /usr/local/lib/vfio-broker/vfio-broker-exec.jar
install -D -m 0755 "$src/bin/vfio-broker" /usr/local/lib/vfio-broker/bin/vfio-broker
ln -sf /usr/local/lib/vfio-broker/bin/vfio-broker /usr/local/bin/vfio-broker
install -D -m 0644 "$src/deploy/vfio-broker.service" /etc/systemd/system/vfio-broker.service
install -D -m 0644 "$src/deploy/vfio-broker.tmpfiles.conf" /etc/tmpfiles.d/vfio-broker.conf
install -D -m 0644 "$src/deploy/modules-load.conf" /etc/modules-load.d/vfio-broker.conf
[ -f /etc/vfio-broker/daemon.properties ] || install -D -m 0644 "$src/deploy/daemon.properties" /etc/vfio-broker/daemon.properties
echo "installed; start with: systemctl daemon-reload && systemctl enable --now vfio-broker"
