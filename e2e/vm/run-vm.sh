#!/usr/bin/env bash
# Boots one time-boxed VM that runs one scenario and leaves its files in the results dir.
# Usage: run-vm.sh --kernel debian-6.1|debian-6.12|custom-6.12 --iommu on|off|none
#                  --scenario NAME --results DIR [--timeout SECONDS] [--java-home DIR]
#   --iommu on/off: emulated Intel IOMMU with interrupt remapping on/off; none: no IOMMU at all.
#   The VM has four edu devices (see edu_devs below).
# Exit status: the scenario's; 124 when the VM hit the timeout; 125 when the guest left no status.
source "$(dirname "$0")/common.sh"

kernel="" iommu=on scenario="" results="" timeout_s=300
java_home=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) kernel=$2 ;; --iommu) iommu=$2 ;; --scenario) scenario=$2 ;;
    --results) results=$2 ;; --timeout) timeout_s=$2 ;; --java-home) java_home=$2 ;;
    *) die "unknown argument $1" ;;
  esac
  shift 2
done
[ -n "$kernel" ] && [ -n "$scenario" ] && [ -n "$results" ] || die "need --kernel, --scenario and --results"
[ -f "$E2E_VM_DIR/scenarios/$scenario.sh" ] || die "no scenario $E2E_VM_DIR/scenarios/$scenario.sh"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (run e2e/vm/prepare.sh)"

kdir=$(readlink -f "$CACHE/$kernel" || true)
[ -n "$kdir" ] && [ -d "$kdir" ] || die "kernel $kernel not cached in $CACHE (run e2e/vm/prepare.sh)"
image=$kdir/vmlinuz; [ -f "$image" ] || image=$kdir/bzImage
initrd=$("$E2E_VM_DIR/make-initramfs.sh" "$kernel")

mkdir -p "$results"
results=$(cd "$results" && pwd)
rm -rf "$results"/{exit-status,scenario.log,console.log,dmesg.txt,vm.env,bin}
chmod 0777 "$results"   # the guest's unprivileged uid writes results too

case "$iommu" in
  on|off) iommu_dev=(-device "intel-iommu,intremap=$iommu,caching-mode=on"); iommu_arg="intel_iommu=on" ;;
  none)   iommu_dev=(); iommu_arg="intel_iommu=off" ;;   # Debian enables the IOMMU by default
  *) die "--iommu must be on, off or none" ;;
esac

# Four edu devices: two on the root bus, each alone in its IOMMU group, and two behind a conventional PCI
# bridge, which the IOMMU cannot tell apart (requester id of the bridge), so they share one group.
# Fixed addresses: 0000:00:01.0, 0000:00:02.0, bridge 0000:00:03.0, 0000:01:01.0 and 0000:01:02.0. shpc=off: no
# hotplug controller, so no shpchp tries (and fails) to claim the bridge.
edu_devs=(-device edu,addr=01.0 -device edu,addr=02.0
          -device pci-bridge,id=br1,chassis_nr=1,shpc=off,addr=03.0
          -device edu,bus=br1,addr=01.0 -device edu,bus=br1,addr=02.0)

shares=(-virtfs "local,path=/usr,mount_tag=usr,security_model=none,readonly=on"
        -virtfs "local,path=$E2E_PROJECT_DIR,mount_tag=project,security_model=none,readonly=on"
        -virtfs "local,path=$results,mount_tag=results,security_model=none")
jdk_share=""
case "$java_home" in
  /usr/*) ;;
  *) shares+=(-virtfs "local,path=$java_home,mount_tag=jdk,security_model=none,readonly=on"); jdk_share=1 ;;
esac

# Helpers the guest runs natively (built here: the guest has the host's /usr but no compiler of its own use).
mkdir -p "$results/bin"
for c in "$E2E_VM_DIR"/guest/*.c; do
  [ -f "$c" ] || continue
  gcc -shared -fPIC -O2 -o "$results/bin/$(basename "$c" .c).so" "$c" -ldl || die "cannot build $c"
done

# In-guest timer 20 s before the box ends, so a hung scenario still leaves its log and status;
# short boxes get none (0) and rely on QEMU being killed.
guest_timeout=$(( timeout_s > 40 ? timeout_s - 20 : 0 ))
cat > "$results/vm.env" <<ENV
E2E_SCENARIO='$scenario'
E2E_PROJECT='$E2E_PROJECT_DIR'
E2E_KERNEL='$kernel'
E2E_IOMMU='$iommu'
E2E_JAVA_HOME='$java_home'
E2E_JDK_SHARE='$jdk_share'
E2E_GUEST_TIMEOUT='$guest_timeout'
ENV

log "boot $kernel iommu=$iommu scenario=$scenario (timeout ${timeout_s}s)"
started=$(date +%s)
qemu_rc=0
# -smp 1: JVMs in the guest crash on multi-threaded TCG (QEMU 7.2); single-threaded is reliable.
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
  -machine q35,kernel-irqchip=split -accel tcg -cpu max -m 1G -smp 1 \
  "${iommu_dev[@]}" "${edu_devs[@]}" "${shares[@]}" \
  -kernel "$image" -initrd "$initrd" \
  -append "console=ttyS0 panic=-1 quiet $iommu_arg" \
  -nographic -no-reboot -nodefaults -serial stdio -monitor none \
  < /dev/null > "$results/console.log" 2>&1 || qemu_rc=$?
log "VM ended after $(( $(date +%s) - started )) s (qemu exit $qemu_rc)"

if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
  log "VM timed out after ${timeout_s}s; console: $results/console.log"; exit 124
fi
if [ ! -s "$results/exit-status" ]; then
  log "guest left no exit status; console tail:"; tail -20 "$results/console.log" >&2; exit 125
fi
exit "$(cat "$results/exit-status")"
