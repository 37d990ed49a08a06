#!/usr/bin/env bash
# Runs the benchmarks and prints their numbers.
# Usage: bench/run.sh [treeDir] [runs]            InventoryBench: cold CLI vs cold lspci, warm daemon scan vs lspci (8321 devices);
#                                                 then HotplugBench on the same 8321-device host shape (HOTPLUG_ARGS="pfs vfs iterations")
#        bench/run.sh lease [runs=5] [cycles]     DaemonLeaseBench, runs times: bin/vfio-broker daemon and client processes, against
#                                                 the bare protocol (FloorServer) in the same run; ratios PASS/OVER
#        bench/run.sh soak [cycles] [every]       SoakBench: 100 000 cycles through bin/vfio-broker daemon, fds/threads/heap/RSS
#                                                 every 10 000; exits nonzero on growth. Not part of bin/test-all.
#        bench/run.sh lease-inproc [cycles] [stateDir]   LeaseBench: broker classes in this JVM, fd drift, kill -9 → lease end
#        bench/run.sh abuse [cycles]              AbuseBench: acquire+redeem p99 alone vs. with 64 idle fd.sock + 64 Watch from uid 65534
#        bench/run.sh takeback [cycles]           TakeBackBench: acquire+redeem+release p99 alone vs. while one group is being taken back,
#                                                 and (binding every cycle) alone vs. while one group's unbind is blocked in the kernel
#        bench/run.sh holderscan [procs,...] [fds] [passes]   HolderScanBench: a lease end's /proc/*/fd scan, CPU per pass as
#                                                 processes holding fds are added (what each open fd on the node costs)
#        bench/run.sh footprint [idleSeconds] [requests] [demo,big]   FootprintBench: bin/vfio-broker daemon's ready time,
#                                                 RSS/PSS and threads against the node-agent budgets (VFIO_BROKER_JAVA_OPTS reaches it)
# Every mode appends its run (machine, commit, date, parameters, numbers, printed lines) to bench/results/<mode>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
# bench NAME CLASS ARGS...: runs CLASS through BenchResults, which records the run in bench/results/NAME.json
bench() {
  local name=$1 class=$2; shift 2
  mvn -q -pl bench exec:java -Dbench.results="$PWD/bench/results" -Dbench.repo="$PWD" \
    -Dexec.mainClass=io.vfiobroker.bench.BenchResults -Dexec.args="$name io.vfiobroker.bench.$class ${*:-}"
}
# own CLASS ARGS...: a bench that records its own run (numbers by name), so it is not wrapped
own() {
  local class=$1; shift
  mvn -q -pl bench exec:java -Dbench.results="$PWD/bench/results" -Dbench.repo="$PWD" \
    -Dexec.mainClass=io.vfiobroker.bench.$class -Dexec.args="${*:-}"
}
if [[ "${1:-}" == footprint ]]; then
  shift
  mvn -q -pl bench -am install -DskipTests
  own FootprintBench "$@"
  exit
fi
if [[ "${1:-}" == lease ]]; then
  runs=${2:-5}
  mvn -q -pl bench -am install -DskipTests
  for ((i = 1; i <= runs; i++)); do
    echo "== lease run $i of $runs =="
    own DaemonLeaseBench "${@:3}"
  done
  exit
fi
if [[ "${1:-}" == holderscan ]]; then
  shift
  mvn -q -pl bench -am install -DskipTests
  own HolderScanBench "$@"
  exit
fi
if [[ "${1:-}" == soak ]]; then
  shift
  mvn -q -pl bench -am install -DskipTests
  own SoakBench "$@"
  exit
fi
if [[ "${1:-}" == abuse ]]; then
  shift
  mvn -q -pl bench -am install -DskipTests
  bench abuse AbuseBench "$@"
  exit
fi
if [[ "${1:-}" == takeback ]]; then
  shift
  mvn -q -pl bench -am install -DskipTests
  bench takeback TakeBackBench "$@"
  exit
fi
if [[ "${1:-}" == lease-inproc ]]; then
  shift
  mvn -q -pl bench -am install -DskipTests
  bench lease-inproc LeaseBench "$@"
  exit
fi
command -v lspci >/dev/null || { apt-get update -qq && apt-get install -y -qq pciutils; }
mvn -q -pl bench -am install -DskipTests
own InventoryBench "$@"
# uevent -> Events.Watch latency (target p99 < 20 ms) on 64 PF x 128 VF (8321 PCI devices): HotplugBench [pfs] [vfsPerPf] [iterations]
bench hotplug HotplugBench ${HOTPLUG_ARGS:-64 128 1000}
