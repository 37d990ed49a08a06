# Helpers for scenario scripts (sourced; runs in the guest under bash, as root).
# A scenario writes files into $E2E_RESULTS; the JUnit side asserts on them. Scenarios collect,
# they do not judge: a failing command is recorded (its .rc file), not fatal.

GUEST_UID=1000   # the unprivileged client user in the initramfs's /etc/passwd

# as_user CMD...: run as the unprivileged uid (host setpriv: no PAM needed, unlike su).
as_user() { /usr/bin/setpriv --reuid=$GUEST_UID --regid=$GUEST_UID --init-groups -- "$@"; }

# record NAME CMD...: stdout to NAME.out (or NAME.json with --json), stderr to NAME.err, status to NAME.rc.
record() {
  local name=$1; shift
  local out="$E2E_RESULTS/$name.out"
  case " $* " in *" --json "*) out="$E2E_RESULTS/$name.json" ;; esac
  mkdir -p "$(dirname "$out")"
  local t0; t0=$(date +%s%N)
  "$@" > "$out" 2> "$E2E_RESULTS/$name.err"
  local rc=$?
  echo "$rc" > "$E2E_RESULTS/$name.rc"
  echo "$name: rc=$rc in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  return 0
}

# The project's CLI, from the read-only project share.
cli() { "$E2E_PROJECT/bin/vfio-broker" "$@"; }

driver_of() { local d; d=$(readlink "/sys/bus/pci/devices/$1/driver") && basename "$d" || echo none; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# LeaseProbe (e2e/src/test/java/.../guest/LeaseProbe.java): a uid-1000 client steered line by line.
#   probe_start NAME [--backend B] [--watch] DEV...   starts it in the background; output in $E2E_RESULTS/NAME.out
#   probe_say NAME COMMAND                            bar0 | dma | limits | release | exit | sleep
#   probe_wait NAME EVENT-REGEX [SECONDS]             until an output line has a matching "event"
#   probe_acquired NAME [SECONDS]                     waits for the Acquire's outcome: true when it has its fds
#   probe_end NAME [SECONDS]                          closes its stdin, waits; exit status to NAME.rc
# PROBE_WRAP (an array) goes before java, e.g. (prlimit --memlock=65536:131072).
PROBE_CP="$E2E_PROJECT/daemon/target/cli/vfio-broker-exec.jar:$E2E_PROJECT/e2e/target/test-classes"
# The CLI's class archive serves the probe too (its jar leads the class path): a JVM start on one emulated vCPU is slow.
PROBE_CDS=()
[ -f "$E2E_PROJECT/daemon/target/cli/vfio-broker.jsa" ] && PROBE_CDS=(-Xshare:auto "-XX:SharedArchiveFile=$E2E_PROJECT/daemon/target/cli/vfio-broker.jsa" -Xlog:cds=off -Xlog:cds+dynamic=off)
declare -A PROBE_FD PROBE_JOB
PROBE_WRAP=()
probe_start() {
  local name=$1; shift
  local fifo="/tmp/probe-${name//\//_}.in"
  mkdir -p "$(dirname "$E2E_RESULTS/$name")"
  rm -f "$fifo"; mkfifo -m 0644 "$fifo"
  as_user "${PROBE_WRAP[@]}" java -XX:TieredStopAtLevel=1 -Xmx96m -Xss512k "${PROBE_CDS[@]}" -cp "$PROBE_CP" \
    io.vfiobroker.e2e.guest.LeaseProbe "$@" < "$fifo" > "$E2E_RESULTS/$name.out" 2> "$E2E_RESULTS/$name.err" &
  PROBE_JOB[$name]=$!
  local fd; exec {fd}> "$fifo"
  PROBE_FD[$name]=$fd
}
trap '' PIPE   # a probe that already exited must not take the scenario down with it when told something
probe_say() { echo "$2" >&"${PROBE_FD[$1]}" 2>/dev/null || echo "probe $1 is gone; not told '$2'"; }
# probe_acquired NAME: waits for the outcome of the probe's Acquire; true only if it got its fds.
probe_acquired() {
  probe_wait "$1" 'acquired|refused|redeem-failed' "${2:-300}" && grep -q '"event":"acquired"' "$E2E_RESULTS/$1.out"
}
# probe_wait_count NAME EVENT N [SECONDS]: until the probe has printed EVENT N times.
probe_wait_count() {
  local i
  for i in $(seq 1 $(( ${4:-120} * 5 ))); do
    [ "$(grep -c "\"event\":\"$2\"" "$E2E_RESULTS/$1.out" 2>/dev/null)" -ge "$3" ] && return 0
    sleep 0.2
  done
  echo "probe $1: fewer than $3 events $2 within ${4:-120}s"; return 1
}
probe_wait() {
  local name=$1 re=$2 limit=${3:-120} i
  for i in $(seq 1 $(( limit * 5 ))); do
    grep -Eq "\"event\":\"($re)\"" "$E2E_RESULTS/$name.out" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "probe $name: no event $re within ${limit}s"; return 1
}
probe_pid() { sed -n 's/.*"event":"start","pid":\([0-9]*\).*/\1/p' "$E2E_RESULTS/$1.out" | head -1; }
probe_lease() { sed -n 's/.*"event":"acquired","lease":"\([^"]*\)".*/\1/p' "$E2E_RESULTS/$1.out" | head -1; }
probe_end() {
  local name=$1 limit=${2:-60} job=${PROBE_JOB[$1]} fd=${PROBE_FD[$1]} i
  exec {fd}>&- 2>/dev/null
  for i in $(seq 1 $(( limit * 5 ))); do kill -0 "$job" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$job" 2>/dev/null; then
    echo "probe $name still running after ${limit}s: killing it"
    kill -9 "$(probe_pid "$name")" "$job" 2>/dev/null
  fi
  wait "$job"; echo $? > "$E2E_RESULTS/$name.rc"
}

# The daemon, as root, with /tmp/policy.yaml (the scenario writes it) and REST on 127.0.0.1:8080.
cat > /tmp/daemon.properties <<PROPS
vfio-broker.policy-file=/tmp/policy.yaml
vfio-broker.policy-poll-interval=1s
vfio-broker.state-dir=/tmp/state
vfio-broker.run-dir=/run/vfio-broker
server.port=8080
# One emulated vCPU, maybe shared with a loaded host: a client JVM can take longer than the default 10 s to redeem.
vfio-broker.ticket-ttl=120s
PROPS
DAEMON_STARTS=0
# start_daemon [ENV=VALUE...]: the daemon in the background (DAEMON), waiting until gRPC and HTTP answer.
# Logs go to daemon.log, then daemon-2.log, ... Prints how long the start took in ms.
start_daemon() {
  DAEMON_STARTS=$((DAEMON_STARTS + 1))
  local log="$E2E_RESULTS/daemon.log" t0 i
  [ "$DAEMON_STARTS" -gt 1 ] && log="$E2E_RESULTS/daemon-$DAEMON_STARTS.log"
  rm -f /run/vfio-broker/api.sock   # a killed daemon leaves its socket behind
  t0=$(date +%s%N)
  # One emulated vCPU: a C2 compiler thread would compete with the daemon's start, which is what the suite waits for.
  env "$@" "$E2E_PROJECT/bin/vfio-broker" daemon --config /tmp/daemon.properties > "$log" 2>&1 &
  DAEMON=$!
  for i in $(seq 1 600); do
    [ -S /run/vfio-broker/api.sock ] && rest /actuator/health > /dev/null 2>&1 && break
    kill -0 "$DAEMON" 2>/dev/null || break
    sleep 0.5
  done
  chmod 755 /run/vfio-broker 2>/dev/null
  echo "$(( ($(date +%s%N) - t0) / 1000000 ))"
}
# Bounded: a daemon blocked in the kernel must not hang the scenario (it fails the call instead). Non-2xx fails.
rest() { curl -s -f -m 30 "http://127.0.0.1:8080$1"; }
# JSON content type: a state-changing request with a form type is what a cross-site form would send.
reload_policy() { curl -s -m 30 -X POST -H 'Content-Type: application/json' -d '{}' "http://127.0.0.1:8080/api/v1/policy/reload"; }

# enable_dra: the daemon also serves the kubelet DRA plugin ([V13], dra.sh), before start_daemon. The guest has no
# API server: claims are read from DraKubeletProbe's stand-in on 127.0.0.1:$DRA_API_PORT. Two pools of one edu each,
# one per mode.
DRA_API_PORT=18081
enable_dra() {
  cat >> /tmp/daemon.properties <<PROPS
vfio-broker.dra.enabled=true
vfio-broker.dra.node-name=guest
vfio-broker.dra.api-server=http://127.0.0.1:$DRA_API_PORT
# The first GET pays for the HTTP client's classes: on one emulated vCPU that can outlast the default 10 s.
vfio-broker.dra.api-timeout=180s
vfio-broker.dra.pools[0].name=edu-nodes
vfio-broker.dra.pools[0].mode=device-nodes
vfio-broker.dra.pools[0].selectors.address=0000:00:02.0
vfio-broker.dra.pools[1].name=edu-broker
vfio-broker.dra.pools[1].mode=broker
vfio-broker.dra.pools[1].selectors.address=0000:00:01.0
PROPS
}
