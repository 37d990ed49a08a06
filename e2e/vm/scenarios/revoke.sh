# [V10] Taking a lease back (sourced by broker.sh with the daemon running, intremap=on boots).
# Root-bus edu devices, each alone in its group: EDU (0000:00:01.0) and EDU2 (0000:00:02.0).
EDU2=0000:00:02.0
mkdir -p "$R/v10"; chmod 0777 "$R/v10"   # uid 1000's programs leave files here too

# policy_v10 GRACE: the [V9] base policy plus the lease section with the revoke grace period.
policy_v10() {
  cat > /tmp/policy.yaml.new <<POLICY
version: 1
leases:
  revokeGraceSeconds: $1
rules:
  - name: ci-edu
    action: allow
    devices:
      vendorDevice: "1234:11e8"
    principals:
      uid: $GUEST_UID
    limits:
      memlockPerLease: 4MiB
      maxDevices: 4
POLICY
  mv /tmp/policy.yaml.new /tmp/policy.yaml
  reload_policy
}
lease_state() { curl -s -f -m 5 "http://127.0.0.1:8080/api/v1/leases/$1" 2>/dev/null | jq -r '.state // empty' 2>/dev/null; }
revoke() {  # LEASE OUT: DELETE as root, in the background (it may take a while); status line in OUT
  ( curl -s -m 90 -X DELETE -H 'Content-Type: application/json' -o "$2.body" -w 'http=%{http_code} seconds=%{time_total}\n' \
      "http://127.0.0.1:8080/api/v1/leases/$1" > "$2" 2>&1 ) &
  REVOKE_JOB=$!
}
# timeline OUT LEASE DEVICE PID SECONDS: every 0.25 s "ms-since-start state driver pid-alive group-node" into OUT
# (state "-" when the daemon did not answer within 5 s). The driver link goes while vfio-pci's remove still waits
# for the fds to close; /dev/vfio/<group> goes only once it is done. Stops once the device is off vfio-pci, its
# group node gone and the pid gone (or SECONDS passed).
timeline() {
  local out=$1 lease=$2 dev=$3 pid=$4 limit=$5 t0 now alive drv node st group
  group=$(basename "$(readlink "/sys/bus/pci/devices/$dev/iommu_group")")
  t0=$(now_ms)
  while :; do
    now=$(now_ms)
    alive=no; kill -0 "$pid" 2>/dev/null && alive=yes
    node=no; [ -e "/dev/vfio/$group" ] && node=yes
    drv=$(driver_of "$dev")
    st=$(lease_state "$lease"); [ -n "$st" ] || st=-
    echo "$((now - t0)) $st $drv $alive $node" >> "$out"
    [ "$drv" != vfio-pci ] && [ "$node" = no ] && [ "$alive" = no ] && break
    [ $((now - t0)) -gt $((limit * 1000)) ] && break
    sleep 0.25
  done
}

# d) A client that ignores the notice is SIGKILLed after the grace; the device is reset and restored.
policy_v10 3 > "$R/v10/policy-grace3.json" 2>&1
rest /api/v1/policy > "$R/v10/policy.json" 2>&1
probe_start v10/ignore --backend legacy "$EDU2"
if probe_acquired v10/ignore; then
  L=$(probe_lease v10/ignore); echo "$L" > "$R/v10/ignore-lease"
  rest "/api/v1/leases/$L" > "$R/v10/ignore-held.json"
  revoke "$L" "$R/v10/ignore-delete.out"
  timeline "$R/v10/ignore-timeline.txt" "$L" "$EDU2" "$(probe_pid v10/ignore)" 60
  rest "/api/v1/leases/$L" > "$R/v10/ignore-after.json"
fi
probe_end v10/ignore 30
wait "$REVOKE_JOB" 2>/dev/null   # never a bare wait: the daemon is a background job of this shell too

# d0) The same with no grace at all: revoke -> vfio-pci released, timed (the [V10] bench row on the real kernel).
policy_v10 0 > "$R/v10/policy-grace0.json" 2>&1
probe_start v10/grace0 --backend legacy "$EDU2"
if probe_acquired v10/grace0; then
  L=$(probe_lease v10/grace0)
  revoke "$L" "$R/v10/grace0-delete.out"
  timeline "$R/v10/grace0-timeline.txt" "$L" "$EDU2" "$(probe_pid v10/grace0)" 60
fi
probe_end v10/grace0 30
wait "$REVOKE_JOB" 2>/dev/null

# e) A client that watches its lease and closes its fds on the notice is not killed; it exits 0 by itself.
policy_v10 15 > "$R/v10/policy-grace15.json" 2>&1
probe_start v10/coop --backend legacy --watch "$EDU2"
if probe_acquired v10/coop && probe_wait v10/coop watching 30; then
  L=$(probe_lease v10/coop); echo "$L" > "$R/v10/coop-lease"
  sleep 1   # the watch stream is open once its first response headers are in; give it a moment
  revoke "$L" "$R/v10/coop-delete.out"
  timeline "$R/v10/coop-timeline.txt" "$L" "$EDU2" "$(probe_pid v10/coop)" 60
  rest "/api/v1/leases/$L" > "$R/v10/coop-after.json"
fi
probe_end v10/coop 30
wait "$REVOKE_JOB" 2>/dev/null

# f) One group STUCK (a forked child holds the fds, grace long); another group's Acquire+Release completes.
# The other client's JVM starts first (one emulated vCPU: its start alone can outlast the grace); it acquires on "go".
policy_v10 60 > "$R/v10/policy-grace60.json" 2>&1   # long: the other client, warm, still takes ~20 s under TCG
probe_start v10/other --backend legacy --wait "$EDU2"
probe_wait v10/other 'ready|refused' 300
rm -f "$R/v10/stuck-holder.pid"
as_user "$E2E_PROJECT/bin/vfio-broker" run --device "$EDU" --backend legacy -- \
  sh -c "echo \$VFIO_BROKER_LEASE > $R/v10/stuck-lease; sleep 300 & echo \$! > $R/v10/stuck-holder.pid; exit 0" \
  > "$R/v10/stuck-run.out" 2> "$R/v10/stuck-run.err"
echo $? > "$R/v10/stuck-run.rc"
HOLDER=$(cat "$R/v10/stuck-holder.pid" 2>/dev/null)
SL=$(cat "$R/v10/stuck-lease" 2>/dev/null)   # vfio-broker run hands the program its lease id
( timeline "$R/v10/stuck-timeline.txt" "$SL" "$EDU" "$HOLDER" 120 ) &
TL=$!
sleep 2
lease_state "$SL" > "$R/v10/stuck-state-before"
go0=$(now_ms)
probe_say v10/other go
probe_acquired v10/other && { probe_say v10/other release; probe_wait v10/other 'released|release-failed' 60; }
echo $(( $(now_ms) - go0 )) > "$R/v10/other-ms"
lease_state "$SL" > "$R/v10/stuck-state-after"
probe_end v10/other 30
rest "/api/v1/leases/$SL" > "$R/v10/stuck-lease.json"
wait "$TL"
if [ -n "$HOLDER" ] && kill -0 "$HOLDER" 2>/dev/null; then
  echo "holder $HOLDER still alive after the timeline: killed by the scenario" > "$R/v10/stuck-cleanup"
  kill -9 "$HOLDER"
  for _ in $(seq 1 60); do [ "$(driver_of "$EDU")" = vfio-pci ] || break; sleep 0.5; done
fi
rest "/api/v1/leases/$SL" > "$R/v10/stuck-after.json"
driver_of "$EDU" > "$R/v10/stuck-driver-after"
rest "/api/v1/audit?size=200" > "$R/v10/audit.json"

# g) A client that maps BAR0 and then closes every fd: no fd is left for the scan to find, but the mapping keeps the
# device open, so vfio-pci's remove waits; after 5 s the lease is STUCK and the daemon reads every process's maps. An
# iommufd lease's cdev maps under its own path: that client is killed. A device fd opened through a legacy group maps
# as anon_inode:[vfio-device], which does not say whose: that client is named, not killed, and the scenario ends it.
policy_v10 3 > "$R/v10/policy-grace3-mmap.json" 2>&1
for B in iommufd legacy; do
  [ "$B" = iommufd ] && [ ! -e /dev/iommu ] && continue
  N=v10/mmap-$B
  probe_start "$N" --backend "$B" "$EDU2"
  if probe_acquired "$N" && probe_say "$N" mmap && probe_wait "$N" 'mapped|mmap-failed' 60 \
      && grep -q '"event":"mapped"' "$E2E_RESULTS/$N.out"; then
    L=$(probe_lease "$N")
    revoke "$L" "$R/$N-delete.out"
    ( timeline "$R/$N-timeline.txt" "$L" "$EDU2" "$(probe_pid "$N")" 45 ) &
    TL=$!
    for _ in $(seq 1 160); do st=$(lease_state "$L"); { [ "$st" = STUCK ] || [ "$st" = ENDED ]; } && break; sleep 0.25; done
    rest "/api/v1/leases/$L" > "$R/$N-stuck.json"
    if [ "$B" = legacy ]; then   # named, not killed: told to, it exits by itself (its stdin has another writer: TL)
      sleep 2; probe_say "$N" exit; probe_end "$N" 30; ENDED=yes
    fi
    wait "$TL"
    rest "/api/v1/leases/$L" > "$R/$N-after.json"
  fi
  [ "${ENDED:-}" = yes ] || probe_end "$N" 30
  ENDED=
  wait "$REVOKE_JOB" 2>/dev/null
done
driver_of "$EDU2" > "$R/v10/mmap-driver-after"
rest "/api/v1/audit?size=200" > "$R/v10/mmap-audit.json"
