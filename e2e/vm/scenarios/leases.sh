# [V9], [V10] and [V13] in one boot (GrantIT, RevokeIT, DraIT): a lease is exactly its grant, taking leases back,
# the daemon killed under a client, the DRA driver.
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
enable_dra   # from the first start on: dra.sh comes last and reuses the running daemon
start_daemon > "$R/daemon-start-ms"
[ -S /run/vfio-broker/api.sock ] || { echo "daemon did not start"; kill $DAEMON; exit 1; }
for part in grant revoke restart dra; do
  part_t0=$(now_ms)
  source "$(dirname "$0")/$part.sh"
  echo "$part.sh: $(( $(now_ms) - part_t0 )) ms" | tee -a "$R/part-times.txt"
done
kill "$DAEMON"; wait "$DAEMON" 2>/dev/null
echo done > "$R/leases.done"   # the status of the wait above is the daemon's (143), not the scenario's
