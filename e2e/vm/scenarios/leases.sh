# [V9] and [V10] in one boot (GrantIT, RevokeIT): a lease is exactly its grant, taking leases back, the daemon
# killed under a client.
source "$(dirname "$0")/lib.sh"
R=$E2E_RESULTS
EDU=0000:00:01.0
cat > /tmp/policy.yaml <<POLICY
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
POLICY
start_daemon > "$R/daemon-start-ms"
[ -S /run/vfio-broker/api.sock ] || { echo "daemon did not start"; kill $DAEMON; exit 1; }
for part in grant revoke restart; do
  part_t0=$(now_ms)
  source "$(dirname "$0")/$part.sh"
  echo "$part.sh: $(( $(now_ms) - part_t0 )) ms" | tee -a "$R/part-times.txt"
done
kill "$DAEMON"; wait "$DAEMON" 2>/dev/null
echo done > "$R/leases.done"   # the status of the wait above is the daemon's (143), not the scenario's
