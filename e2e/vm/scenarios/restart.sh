# [V10] The daemon killed under a client and restarted (sourced by leases.sh after revoke.sh).

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
  # (no sed -i on restart.out: the probe still writes to the file it opened; RevokeIT reads the first and last dma)
  probe_say v10/restart dma; probe_wait_count v10/restart dma 2 120
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
