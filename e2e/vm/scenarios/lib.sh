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
