# [V10] Restart and crashes (sourced by broker.sh after revoke.sh; intremap=on boots).

# g) kill -9 the daemon while a client holds a lease; restart it: the client still DMAs, and when it exits the
#    device is reset and restored.
probe_start v10/restart --backend legacy "$EDU2"
if probe_acquired v10/restart; then
  L=$(probe_lease v10/restart); echo "$L" > "$R/v10/restart-lease"
  probe_say v10/restart dma; probe_wait v10/restart dma 60
  kill -9 "$DAEMON"; wait "$DAEMON" 2>/dev/null
  driver_of "$EDU2" > "$R/v10/restart-driver-daemon-dead"
  start_daemon > "$R/v10/restart-start-ms"
  rest "/api/v1/leases/$L" > "$R/v10/restart-adopted.json" 2>&1
  sed -i 's/"event":"dma"/"event":"dma-before"/' "$R/v10/restart.out"
  probe_say v10/restart dma; probe_wait v10/restart dma 60
  driver_of "$EDU2" > "$R/v10/restart-driver-held"
  probe_say v10/restart exit
  t0=$(now_ms)
  timeline "$R/v10/restart-timeline.txt" "$L" "$EDU2" "$(probe_pid v10/restart)" 60
  echo $(( $(now_ms) - t0 )) > "$R/v10/restart-exit-to-restored-ms"
  rest "/api/v1/leases/$L" > "$R/v10/restart-after.json"
  rest "/api/v1/audit?size=50" > "$R/v10/restart-audit.json"
fi
probe_end v10/restart 30
driver_of "$EDU2" > "$R/v10/restart-driver-after"

# h) kill -9 the daemon right after each sysfs write of a bind and of a release (EDU, a group of its own: each crash
#    point costs a daemon start, minutes on one emulated vCPU, so one kernel runs it; groups of several devices crash
#    at every step on the simulated kernel, BindingCrashTest): after each restart the device is not driverless or
#    half-bound. LD_PRELOAD counts the writes once armed.
[ "$E2E_KERNEL" = custom-6.12 ] && : "${E2E_CRASH_POINTS:=yes}"   # RevokeIT expects them there
if [ "${E2E_CRASH_POINTS:-}" = yes ]; then
mkdir -p "$R/crash"
CRASH_SO=/results/bin/crash-after-sysfs-write.so
G=$(basename "$(readlink "/sys/bus/pci/devices/$EDU/iommu_group")")
group_state() {  # one line: the device's driver and override, and what the daemon says is bound
  printf '%s driver=%s override=%s ' "$EDU" "$(driver_of "$EDU")" "$(cat "/sys/bus/pci/devices/$EDU/driver_override")"
  echo "bound=$(rest /api/v1/bindings | jq -c '[.[] | .device]' 2>/dev/null)"
}
bind_group() { curl -s -m 60 -X POST -H 'Content-Type: application/json' -d "{\"group\":$G}" -o "$1" -w '%{http_code}\n' http://127.0.0.1:8080/api/v1/bindings; }
release_group() { curl -s -m 60 -X DELETE -H 'Content-Type: application/json' -o "$1" -w '%{http_code}\n' "http://127.0.0.1:8080/api/v1/bindings/$G"; }
kill "$DAEMON"; wait "$DAEMON" 2>/dev/null
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
fi
