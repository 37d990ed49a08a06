# By hand: only restart.sh's parts (daemon killed under a client; crash points), for iterating on them.
source "$(dirname "$0")/lib.sh"
R=$E2E_RESULTS
EDU=0000:00:01.0 EDU2=0000:00:02.0
mkdir -p "$R/v10"; chmod 0777 "$R/v10"
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
lease_state() { curl -s -f -m 5 "http://127.0.0.1:8080/api/v1/leases/$1" 2>/dev/null | jq -r '.state // empty' 2>/dev/null; }
eval "$(sed -n '/^timeline() {/,/^}/p' "$(dirname "$0")/revoke.sh")"
t0=$(now_ms)
source "$(dirname "$0")/restart.sh"
echo "restart.sh: $(( $(now_ms) - t0 )) ms" | tee -a "$R/part-times.txt"
kill "$DAEMON"; wait "$DAEMON" 2>/dev/null
