# [V13] The DRA driver on the real kernel (sourced by leases.sh after restart.sh; alone: --scenario dra).
# A fake kubelet (DraKubeletProbe, root) registers the plugin and prepares one claim of two edu: 0000:00:02.0 from
# the device-nodes pool, 0000:00:01.0 from the broker pool. Real: kernel, vfio-pci, the DRA and registration gRPC on
# the kubelet's sockets, the CDI spec and its device nodes. Stood in: the API server (the probe answers the
# daemon's GETs of the claim and its pod from dra/claim.json and dra/pod.json).
if [ -z "${DAEMON:-}" ]; then
  source "$(dirname "$0")/lib.sh"
  R=$E2E_RESULTS
  enable_dra
  start_daemon > "$R/daemon-start-ms"
  DRA_ALONE=1 dra_t0=$(now_ms)
fi
D=$R/dra; mkdir -p "$D"
DRA_NODES=0000:00:02.0 DRA_BROKER=0000:00:01.0

# Only the claim's pod's service account may have edu: the client gets its device through the claim or not at all.
cat > /tmp/policy.yaml.new <<POLICY
version: 1
rules:
  - name: dra-edu
    action: allow
    devices:
      vendorDevice: "1234:11e8"
    principals:
      kubernetesResource: e2e.serviceaccounts/edu-client
    limits:
      memlockPerLease: 4MiB
POLICY
mv /tmp/policy.yaml.new /tmp/policy.yaml
reload_policy > "$D/policy-reload.json" 2>&1

# The claim as the scheduler allocated it: one result per request, a claim config for the broker request.
CLAIM_UID=$(cat /proc/sys/kernel/random/uuid)
cat > "$D/claim.json" <<JSON
{"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
 "metadata": {"name": "edu", "namespace": "e2e", "uid": "$CLAIM_UID"},
 "spec": {"devices": {"requests": [{"name": "nodes", "exactly": {"deviceClassName": "vfio-edu"}},
                                   {"name": "broker", "exactly": {"deviceClassName": "vfio-edu"}}]}},
 "status": {"allocation": {"devices": {
   "results": [{"request": "nodes", "driver": "vfio.vfio-broker.io", "pool": "guest-edu-nodes", "device": "0000-00-02-0"},
               {"request": "broker", "driver": "vfio.vfio-broker.io", "pool": "guest-edu-broker", "device": "0000-00-01-0"}],
   "config": [{"source": "FromClaim", "requests": ["broker"], "opaque": {"driver": "vfio.vfio-broker.io",
     "parameters": {"apiVersion": "vfio-broker.io/v1", "kind": "VfioDeviceConfig", "memlockLimit": "8Mi"}}}]}},
   "reservedFor": [{"resource": "pods", "name": "edu-pod", "uid": "$(cat /proc/sys/kernel/random/uuid)"}]}}
JSON
echo '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "edu-pod", "namespace": "e2e"}, "spec": {"serviceAccountName": "edu-client"}}' > "$D/pod.json"
driver_of "$DRA_NODES" > "$D/driver-nodes-before"; driver_of "$DRA_BROKER" > "$D/driver-broker-before"
basename "$(readlink "/sys/bus/pci/devices/$DRA_NODES/iommu_group")" > "$D/group-nodes"

rm -f /tmp/dra-kubelet.in; mkfifo /tmp/dra-kubelet.in
java -XX:TieredStopAtLevel=1 -Xmx96m -Xss512k "${PROBE_CDS[@]}" -cp "$PROBE_CP" io.vfiobroker.e2e.guest.DraKubeletProbe \
  "$DRA_API_PORT" "$D/claim.json" "$D/pod.json" "$D" < /tmp/dra-kubelet.in > "$D/kubelet.out" 2> "$D/kubelet.err" &
DRA_KUBELET=$!
exec {DRA_FD}> /tmp/dra-kubelet.in
kubelet_say() { echo "$1" >&"$DRA_FD" 2>/dev/null || echo "the DRA kubelet probe is gone; not told '$1'"; }

if probe_wait dra/kubelet 'registered|registration-failed' 300; then
  kubelet_say prepare
  probe_wait dra/kubelet 'prepared|failed' 300
  probe_wait dra/kubelet 'cdi' 30
  cp /var/run/cdi/vfio.vfio-broker.io-claim.json "$D/spec.json"
  driver_of "$DRA_NODES" > "$D/driver-nodes-prepared"; driver_of "$DRA_BROKER" > "$D/driver-broker-prepared"
  # Each node the spec lists, as the runtime would create it in the container: type and major:minor (hex).
  touch "$D/cdi.nodes" "$D/cdi.env" "$D/cdi.mounts"   # a failed Prepare wrote none: the steps below still run and record
  while read -r n; do stat -c '%n %F %t:%T' "$n" 2>&1; done < "$D/cdi.nodes" > "$D/nodes-stat.txt"

  kubelet_say nodes-dma
  probe_wait dra/kubelet 'nodes-dma|failed' 120

  # The container of the claim: the spec's mounts in a mount namespace of its own, its env, uid 1000.
  cat > /tmp/dra-client.sh <<SH
while read -r host ctr opts; do
  /usr/bin/mount --bind "\$host" "\$ctr" || exit 90
  case ",\$opts," in *,ro,*) /usr/bin/mount -o remount,bind,ro "\$ctr" || exit 91 ;; esac
done < "$D/cdi.mounts"
grep ' /run/vfio-broker ' /proc/self/mountinfo > "$D/client-mountinfo.txt"
mapfile -t CDI_ENV < "$D/cdi.env"
exec env "\${CDI_ENV[@]}" /usr/bin/setpriv --reuid=$GUEST_UID --regid=$GUEST_UID --init-groups -- \
  "$E2E_PROJECT/bin/vfio-broker" client --edu-test
SH
  record dra/client /usr/bin/unshare --mount --propagation private bash /tmp/dra-client.sh
  driver_of "$DRA_BROKER" > "$D/driver-broker-after-client"

  kubelet_say prepare   # again: the kubelet retries freely
  probe_wait_count dra/kubelet prepared 2 120
  kubelet_say unprepare
  probe_wait dra/kubelet 'unprepared|failed' 300
  driver_of "$DRA_NODES" > "$D/driver-nodes-after"; driver_of "$DRA_BROKER" > "$D/driver-broker-after"
  ls -A /var/run/cdi > "$D/cdi-dir-after" 2>&1
fi
kubelet_say exit
exec {DRA_FD}>&-
for i in $(seq 1 300); do kill -0 "$DRA_KUBELET" 2>/dev/null || break; sleep 0.2; done
kill -9 "$DRA_KUBELET" 2>/dev/null   # still there after 60 s: hung, and the scenario must go on
wait "$DRA_KUBELET"; echo $? > "$D/kubelet.rc"
grep -h 'event=dra-' "$R"/daemon*.log > "$D/daemon-events.log"

if [ -n "${DRA_ALONE:-}" ]; then
  echo "dra.sh: $(( $(now_ms) - dra_t0 )) ms" | tee -a "$R/part-times.txt"
  kill "$DAEMON"; wait "$DAEMON" 2>/dev/null
  echo done > "$R/dra.done"
fi
