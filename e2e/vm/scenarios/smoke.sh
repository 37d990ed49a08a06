# Plumbing check: shares, modules, the JDK and the unprivileged user all work in the guest.
set -u
uname -r
ls /sys/kernel/iommu_groups
lspci -Dn
cat /proc/modules
id; su -s /bin/sh e2e -c id
setpriv --reuid=1000 --regid=1000 --clear-groups sh -c 'id; echo hi > $E2E_RESULTS/user-wrote'
time java -version
