# Scenario 1: record the guest's truth with plain tools, and the CLI's inventory, for comparison.
source "$(dirname "$0")/lib.sh"
mkdir -p "$E2E_RESULTS/truth" "$E2E_RESULTS/cli"
T=$E2E_RESULTS/truth

uname -r > "$T/uname"
lspci -Dvmmnk > "$T/lspci.txt" 2>/dev/null        # Slot/Vendor/Device/Driver records, independent of our sysfs reader
for g in /sys/kernel/iommu_groups/*; do  # "<group> <address>..." per line
  [ -d "$g" ] || continue
  echo "$(basename "$g") $(ls "$g/devices" | tr '\n' ' ')"
done > "$T/groups.txt"
for u in /sys/class/iommu/*; do          # "<unit> ecap=<hex> cap=<hex>" per line
  [ -e "$u" ] || continue
  echo "$(basename "$u") ecap=$(cat "$u/intel-iommu/ecap" 2>/dev/null) cap=$(cat "$u/intel-iommu/cap" 2>/dev/null)"
done > "$T/iommu-units.txt"
yn() { if [ -e "$1" ]; then echo yes; else echo no; fi; }
param() { cat "$1" 2>/dev/null || echo absent; }
{
  for m in vfio vfio_pci vfio_pci_core vfio_iommu_type1 iommufd; do echo "module.$m=$(yn /sys/module/$m)"; done
  echo "driver.vfio-pci=$(yn /sys/bus/pci/drivers/vfio-pci)"
  echo "dev.vfio.vfio=$(yn /dev/vfio/vfio)"
  echo "dev.iommu=$(yn /dev/iommu)"
  echo "param.type1.allow_unsafe_interrupts=$(param /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts)"
  echo "param.iommufd.allow_unsafe_interrupts=$(param /sys/module/iommufd/parameters/allow_unsafe_interrupts)"
  if grep -q ' IR-' /proc/interrupts; then echo "ir-chips=yes"; else echo "ir-chips=no"; fi
} > "$T/kernel.properties"
cat /proc/modules > "$T/proc-modules" 2>/dev/null
cat "$T/kernel.properties" "$T/groups.txt" "$T/iommu-units.txt"

# The CLI as root, like the daemon runs, and devices once as the unprivileged uid (inventory is world-readable).
# Devices and groups do not depend on interrupt remapping: the intremap=off boot asks only for the IOMMU units.
[ "$E2E_IOMMU" = off ] || record cli/devices cli devices --json
[ "$E2E_IOMMU" = off ] || record cli/groups cli groups --json
record cli/iommu cli iommu --json
[ "$E2E_IOMMU" = off ] || record cli/devices-as-user as_user "$E2E_PROJECT/bin/vfio-broker" devices --json
