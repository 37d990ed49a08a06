#!/bin/sh
# PID 1 in the test VM: mount, load modules, mount the 9p shares, run one scenario, record its
# exit status on the results share, reboot (QEMU runs with -no-reboot, so that ends the VM).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root

fail() { echo "E2E-INIT-FAILED: $*"; sync; reboot -f; sleep 5; exit 1; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mountpoint -q /dev || fail "devtmpfs"
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
hostname vfio-e2e
ifconfig lo 127.0.0.1 up 2>/dev/null

for m in $(cat /etc/modules.order); do
  insmod "/modules/$m.ko" || fail "insmod $m"
done

p9="trans=virtio,version=9p2000.L,msize=262144"
mount -t 9p -o "$p9" results /results || fail "mount results share"
[ -f /results/vm.env ] || fail "no /results/vm.env"
. /results/vm.env
# cache=loose: a JVM on the shares starts ~3x faster than with the defaults.
mount -t 9p -o "$p9,ro,cache=loose" usr /usr || fail "mount /usr"
mkdir -p "$E2E_PROJECT" && mount -t 9p -o "$p9,ro,cache=loose" project "$E2E_PROJECT" || fail "mount project"
if [ -n "${E2E_JDK_SHARE:-}" ]; then
  mkdir -p "$E2E_JAVA_HOME" && mount -t 9p -o "$p9,ro,cache=loose" jdk "$E2E_JAVA_HOME" || fail "mount jdk"
fi
[ -e /bin/bash ] || ln -s /usr/bin/bash /bin/bash

export E2E_RESULTS=/results E2E_PROJECT E2E_KERNEL E2E_IOMMU E2E_SCENARIO E2E_JAVA_HOME
export JAVA="$E2E_JAVA_HOME/bin/java" PATH="$E2E_JAVA_HOME/bin:$PATH"
script="$E2E_PROJECT/e2e/vm/scenarios/$E2E_SCENARIO.sh"
echo "E2E-SCENARIO-START $E2E_SCENARIO kernel=$(uname -r) iommu=$E2E_IOMMU"
if [ -f "$script" ]; then
  # bash from /usr: busybox sh would run its own applets instead of the host tools.
  # coreutils timeout (exit 124), not busybox's (143).
  cd /tmp && /usr/bin/timeout "${E2E_GUEST_TIMEOUT:-0}" /usr/bin/bash "$script" > /results/scenario.log 2>&1
  rc=$?
  [ "$rc" = 124 ] && echo "E2E: scenario killed by the in-guest timeout (${E2E_GUEST_TIMEOUT}s)" >> /results/scenario.log
else
  echo "no scenario script $script" > /results/scenario.log; rc=127
fi
dmesg > /results/dmesg.txt 2>/dev/null
echo "$rc" > /results/exit-status
echo "E2E-SCENARIO-END rc=$rc"
sync
umount /results 2>/dev/null
reboot -f
