# Shared settings for the e2e VM scripts; sourced, not run.
# shellcheck shell=bash
set -eEuo pipefail
# set -e alone exits silently; say where, so a failed boot's run.log explains itself.
trap 'rc=$?; printf "[e2e] %s: line %s: %s exited %s\n" "$(basename "$0")" "$LINENO" "$BASH_COMMAND" "$rc" >&2' ERR

E2E_VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_PROJECT_DIR=$(cd "$E2E_VM_DIR/../.." && pwd)
CACHE=${VFIO_BROKER_E2E_CACHE:-/var/cache/vfio-broker-e2e}
# The kernels the suite knows; each has a stable pointer $CACHE/<name> -> its versioned cache entry.
E2E_KERNELS="debian-6.1 debian-6.12 custom-6.12"

log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Candidate version apt would install ("" when the lists do not know the package).
apt_candidate() {
  apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { if ($2 != "(none)") print $2 }'
}

# Atomically point $CACHE/<name> at a finished entry, so a crashed build never looks cached.
# The link is relative so the cache dir can be moved or mounted elsewhere (CI caches).
set_pointer() {
  ln -sfn "kernels/$(basename "$2")" "$CACHE/.$1.tmp" && mv -T "$CACHE/.$1.tmp" "$CACHE/$1"
}
