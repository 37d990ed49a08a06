# Scenarios 2-5 in one boot: bind/restore (V3), acquire as an unprivileged uid with real VFIO (V5),
# interrupt-remapping policy (V4), and lease end on SIGKILL. Collects; the JUnit side judges.
source "$(dirname "$0")/lib.sh"
R=$E2E_RESULTS
# Scenario 1 first, while the host is as booted: the same boot serves InventoryIT.
bash "$(dirname "$0")/inventory.sh"

mkdir -p "$R/s2" "$R/s3" "$R/s4" "$R/s5"

EDU=$(lspci -Dn -d 1234:11e8 | awk '{print $1; exit}')
echo "$EDU" > "$R/edu-address"
GROUP=$(basename "$(readlink "/sys/bus/pci/devices/$EDU/iommu_group")")
echo "$GROUP" > "$R/edu-group"
ls_vfio() { ls /dev/vfio | tr '\n' ' '; echo; }

# Binding, a client's death and hotplug do not depend on interrupt remapping: they run once per kernel, in its
# intremap=on boot; the intremap=off boot is for the policy and the kernel's own answer (scenario 4).
ON=$([ "$E2E_IOMMU" = on ] && echo 1)

# --- Scenario 2: bind and restore through the CLI ---------------------------------------------------
if [ -n "$ON" ]; then
driver_of "$EDU" > "$R/s2/driver-before"
ls_vfio > "$R/s2/dev-vfio-before"
record s2/bind-dry-run cli bind "$EDU" --dry-run
record s2/bind cli bind "$EDU"
driver_of "$EDU" > "$R/s2/driver-bound"
ls_vfio > "$R/s2/dev-vfio-bound"
record s2/status cli status --json
record s2/release cli release "$EDU"
driver_of "$EDU" > "$R/s2/driver-released"
ls_vfio > "$R/s2/dev-vfio-released"
cat "/sys/bus/pci/devices/$EDU/driver_override" > "$R/s2/override-released"
fi

# --- The kernel's own answer without policy (root): VFIO_SET_IOMMU with the switch as booted -------------
# (intremap=off only: with remapping, scenario 3's client opening the domain is the kernel's answer.)
if [ -z "$ON" ]; then
  cli bind "$EDU" > /dev/null 2>&1
  record s4/domain-check-switch-off cli domain-check "$EDU"
  cli release "$EDU" > /dev/null 2>&1
fi

# --- The daemon ---------------------------------------------------------------------------------------
write_policy() {  # allowUnsafeInterrupts
  cat > /tmp/policy.yaml.new <<POLICY
version: 1
rules:
  - name: ci-edu
    action: allow
    devices:
      vendorDevice: "1234:11e8"
    principals:
      uid: $GUEST_UID
    limits:
      memlockPerLease: 4MiB
      allowUnsafeInterrupts: $1
POLICY
  mv /tmp/policy.yaml.new /tmp/policy.yaml
}
write_policy false
start_daemon > "$R/daemon-start-ms"
[ -S /run/vfio-broker/api.sock ] || { echo "daemon did not start"; kill $DAEMON; exit 1; }
record s4/explain cli policy explain --uid "$GUEST_UID" --policy /tmp/policy.yaml "$EDU"

if [ "$E2E_IOMMU" = on ]; then
  # --- Scenario 3: the real thing, as uid 1000 ------------------------------------------------------
  record s3/edu-legacy as_user "$E2E_PROJECT/bin/vfio-broker" client "$EDU" --edu-test --backend legacy
  driver_of "$EDU" > "$R/s3/driver-after"
  # `vfio-broker run`: the program is exec'd with the lease's fds announced the systemd way and the memlock
  # limit set; the lease ends when it exits (its pid is the client's).
  cat > /tmp/run-probe.sh <<'PROBE'
#!/bin/sh
echo "LISTEN_FDS=$LISTEN_FDS"
[ "$LISTEN_PID" = "$$" ] && echo "LISTEN_PID=self"
echo "LISTEN_FDNAMES=$LISTEN_FDNAMES"
i=3
while [ "$i" -lt $((3 + LISTEN_FDS)) ]; do echo "fd $i -> $(readlink "/proc/$$/fd/$i")"; i=$((i + 1)); done
grep "Max locked memory" "/proc/$$/limits"
PROBE
  chmod 755 /tmp/run-probe.sh
  record s3/run as_user "$E2E_PROJECT/bin/vfio-broker" run --device "$EDU" --backend legacy -- /tmp/run-probe.sh
  for _ in $(seq 1 60); do [ "$(driver_of "$EDU")" = none ] && break; sleep 0.5; done
  driver_of "$EDU" > "$R/s3/driver-after-run"
  record s3/edu-small-memlock as_user "$E2E_PROJECT/bin/vfio-broker" client "$EDU" --edu-test --backend legacy --memlock 1048576
  if [ -e /dev/iommu ]; then
    record s3/edu-iommufd as_user "$E2E_PROJECT/bin/vfio-broker" client "$EDU" --edu-test --backend iommufd
    record s3/edu-iommufd-small-memlock as_user "$E2E_PROJECT/bin/vfio-broker" client "$EDU" --edu-test --backend iommufd --memlock 65536
  fi
  record s3/iommufd-without-access as_user sh -c 'exec 3</dev/iommu'
else
  # --- Scenario 4: no interrupt remapping ------------------------------------------------------------
  record s4/refused-by-policy as_user "$E2E_PROJECT/bin/vfio-broker" client "$EDU"
  write_policy true; reload_policy > /dev/null
  record s4/allowed-but-kernel-switch-off as_user "$E2E_PROJECT/bin/vfio-broker" client "$EDU"
  echo Y > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
  [ -e /sys/module/iommufd/parameters/allow_unsafe_interrupts ] && echo Y > /sys/module/iommufd/parameters/allow_unsafe_interrupts
  record s4/allowed-with-switch as_user "$E2E_PROJECT/bin/vfio-broker" client "$EDU" --edu-test --backend legacy
fi
record s3/audit rest /api/v1/audit?size=100

# --- Scenario 5: the client dies with SIGKILL -----------------------------------------------------------
if [ -n "$ON" ]; then
mkfifo /tmp/hold-in
( as_user "$E2E_PROJECT/bin/vfio-broker" client "$EDU" --hold < /tmp/hold-in > "$R/s5/client.out" 2> "$R/s5/client.err" ) &
exec 9> /tmp/hold-in   # keep the client's stdin open so it holds
for _ in $(seq 1 240); do grep -q HOLDING "$R/s5/client.out" 2>/dev/null && break; sleep 0.5; done
driver_of "$EDU" > "$R/s5/driver-held"
rest /api/v1/leases > "$R/s5/leases-held.json"
CPID=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$R/s5/client.out" | head -1)
echo "$CPID" > "$R/s5/client-pid"
grep "Max locked memory" "/proc/$CPID/limits" > "$R/s5/limits-held" 2>/dev/null
kill -9 "$CPID"
for _ in $(seq 1 60); do [ "$(rest /api/v1/leases)" = "[]" ] && break; sleep 0.5; done
rest /api/v1/leases > "$R/s5/leases-after-kill.json"
rest "/api/v1/leases?includeEnded=true" > "$R/s5/leases-ended.json"
driver_of "$EDU" > "$R/s5/driver-after-kill"
ls_vfio > "$R/s5/dev-vfio-after-kill"
exec 9>&-

# --- Hotplug (V6): the daemon sees edu removed and rescanned through kernel uevents ------------------------
mkdir -p "$R/s6"
( timeout 90 busybox wget -q -O - "http://127.0.0.1:8080/api/v1/events?kinds=device" > "$R/s6/events.txt" 2>&1 ) &
EVW=$!
sleep 2
rest /actuator/prometheus | grep '^vfio_broker_hotplug' > "$R/s6/metrics-before.txt"
# The time from the kernel's remove to the event on the stream (polled every 50 ms; TCG-slow, reported as is).
t0=$(date +%s%N)
echo 1 > "/sys/bus/pci/devices/$EDU/remove"
for _ in $(seq 1 1200); do grep -q device-removed "$R/s6/events.txt" && break; sleep 0.05; done
echo "$(( ($(date +%s%N) - t0) / 1000000 ))" > "$R/s6/remove-to-event-ms"
curl -s -m 30 -o "$R/s6/after-remove.json" -w '%{http_code}' "http://127.0.0.1:8080/api/v1/devices/$EDU" > "$R/s6/after-remove.code"
t0=$(date +%s%N)
echo 1 > /sys/bus/pci/rescan
for _ in $(seq 1 1200); do grep -q device-added "$R/s6/events.txt" && break; sleep 0.05; done
echo "$(( ($(date +%s%N) - t0) / 1000000 ))" > "$R/s6/rescan-to-event-ms"
rest "/api/v1/devices/$EDU" > "$R/s6/after-rescan.json" 2> "$R/s6/after-rescan.err"; echo $? > "$R/s6/after-rescan.rc"
kill $EVW 2>/dev/null
rest /actuator/prometheus | grep '^vfio_broker_hotplug' > "$R/s6/metrics.txt"
fi

# [V9] and [V10] (grant.sh, revoke.sh, restart.sh) run in a boot of their own: leases.sh.

kill "$DAEMON"; wait "$DAEMON" 2>/dev/null
echo done > "$R/broker.done"
