# [V10] The daemon killed right after each sysfs write of a bind and of a release (RevokeIT, -De2e.crashPoints=true:
# each crash point costs a daemon start, minutes on one emulated vCPU). Binding needs no policy: root asks over REST.
source "$(dirname "$0")/lib.sh"
R=$E2E_RESULTS
EDU=0000:00:01.0
# EDU, a group of its own; after each restart the device is neither driverless nor half-bound. LD_PRELOAD counts the
# sysfs writes once armed.
mkdir -p "$R/crash"
CRASH_SO=/results/bin/crash-after-sysfs-write.so
G=$(basename "$(readlink "/sys/bus/pci/devices/$EDU/iommu_group")")
group_state() {  # one line: the device's driver and override, and what the daemon says is bound
  printf '%s driver=%s override=%s ' "$EDU" "$(driver_of "$EDU")" "$(cat "/sys/bus/pci/devices/$EDU/driver_override")"
  echo "bound=$(rest /api/v1/bindings | jq -c '[.[] | .device]' 2>/dev/null)"
}
bind_group() { curl -s -m 60 -X POST -H 'Content-Type: application/json' -d "{\"group\":$G}" -o "$1" -w '%{http_code}\n' http://127.0.0.1:8080/api/v1/bindings; }
release_group() { curl -s -m 60 -X DELETE -H 'Content-Type: application/json' -o "$1" -w '%{http_code}\n' "http://127.0.0.1:8080/api/v1/bindings/$G"; }
rm -f /tmp/crash-arm /tmp/crash-arm.log
echo "before $(group_state)" > "$R/crash/states.txt"
start_daemon LD_PRELOAD="$CRASH_SO" CRASH_ARM=/tmp/crash-arm > "$R/crash/start-ms"
for op in bind release; do
  for n in $(seq 1 8); do
    [ "$op" = release ] && bind_group "$R/crash/$op-$n-setup.json" > "$R/crash/$op-$n-setup.code"
    echo "$op $n armed $(group_state)" >> "$R/crash/states.txt"
    echo "$n" > /tmp/crash-arm
    if [ "$op" = bind ]; then bind_group "$R/crash/$op-$n.json"; else release_group "$R/crash/$op-$n.json"; fi > "$R/crash/$op-$n.code"
    sleep 1
    rm -f /tmp/crash-arm
    mv /tmp/crash-arm.log "$R/crash/$op-$n-writes.log" 2>/dev/null
    if kill -0 "$DAEMON" 2>/dev/null; then
      echo "$op $n completed $(group_state)" >> "$R/crash/states.txt"
      echo "$op completed-after-writes=$((n - 1))" >> "$R/crash/summary.txt"
      [ "$op" = bind ] && release_group "$R/crash/bind-cleanup.json" > /dev/null
      break
    fi
    wait "$DAEMON" 2>/dev/null; echo "$op $n daemon-exit=$?" >> "$R/crash/summary.txt"
    echo "$op $n crashed $(group_state)" >> "$R/crash/states.txt"
    start_daemon LD_PRELOAD="$CRASH_SO" CRASH_ARM=/tmp/crash-arm >> "$R/crash/start-ms"
    echo "$op $n restarted $(group_state)" >> "$R/crash/states.txt"
    release_group "$R/crash/$op-$n-cleanup.json" > /dev/null   # from unbound again, whatever start-up settled on
  done
done
echo "end $(group_state)" >> "$R/crash/states.txt"
kill "$DAEMON"; wait "$DAEMON" 2>/dev/null
exit 0   # the status of the wait above is the daemon's (143), not the scenario's
