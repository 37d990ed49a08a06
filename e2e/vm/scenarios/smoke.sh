# Plumbing check: shares, modules, the JDK and the unprivileged user all work in the guest.
set -u
uname -r
ls /sys/kernel/iommu_groups
lspci -Dn
cat /proc/modules
id
/usr/bin/setpriv --reuid=1000 --regid=1000 --init-groups sh -c 'id; echo hi > $E2E_RESULTS/user-wrote'
time java -version
ls -la /dev/iommu /dev/vfio 2>&1
