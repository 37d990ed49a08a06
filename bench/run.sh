#!/usr/bin/env bash
# Runs the benchmarks and prints their numbers.
# Usage: bench/run.sh [treeDir] [runs]            inventory vs lspci, then HotplugBench (HOTPLUG_ARGS)
#        bench/run.sh lease [cycles] [stateDir]   LeaseBench: the protocol floor, then lease cycles, fd drift, kill -9 → lease end
#        bench/run.sh abuse [cycles]              AbuseBench: acquire+redeem p99 alone vs. with 64 idle fd.sock + 64 Watch from uid 65534
#        bench/run.sh takeback [cycles]           TakeBackBench: acquire+redeem+release p99 alone vs. while one group is being taken back,
#                                                 and (binding every cycle) alone vs. while one group's unbind is blocked in the kernel
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
if [[ "${1:-}" == footprint ]]; then
  shift
  mvn -q -pl bench -am install -DskipTests
  # FootprintBench records its own run (numbers by name), so it is not wrapped
  mvn -q -pl bench exec:java -Dbench.results="$PWD/bench/results" -Dbench.repo="$PWD" \
    -Dexec.mainClass=io.vfiobroker.bench.FootprintBench -Dexec.args="${*:-}"
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
if [[ "${1:-}" == lease ]]; then
  shift
  mvn -q -pl bench -am install -DskipTests
  bench lease LeaseBench "$@"
  exit
fi
command -v lspci >/dev/null || { apt-get update -qq && apt-get install -y -qq pciutils; }
mvn -q -pl bench -am install -DskipTests
bench inventory InventoryBench "$@"
# uevent -> Events.Watch latency (target p99 < 20 ms): HotplugBench [pfs] [vfsPerPf] [iterations]
bench hotplug HotplugBench ${HOTPLUG_ARGS:-16 64 1000}
