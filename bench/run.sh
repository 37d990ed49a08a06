#!/usr/bin/env bash
# Runs the benchmarks and prints their numbers.
# Usage: bench/run.sh [treeDir] [runs]            inventory vs lspci, then HotplugBench (HOTPLUG_ARGS)
#        bench/run.sh lease [cycles] [stateDir]   LeaseBench: the protocol floor, then lease cycles, fd drift, kill -9 → lease end
#        bench/run.sh abuse [cycles]              AbuseBench: acquire+redeem p99 alone vs. with 64 idle fd.sock + 64 Watch from uid 65534
#        bench/run.sh takeback [cycles]           TakeBackBench: acquire+redeem+release p99 alone vs. while one group is being taken back,
#                                                 and (binding every cycle) alone vs. while one group's unbind is blocked in the kernel
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == abuse ]]; then
  shift
  mvn -q -pl bench -am install -DskipTests
  mvn -q -pl bench exec:java -Dexec.mainClass=io.vfiobroker.bench.AbuseBench -Dexec.args="${*:-}"
  exit
fi
if [[ "${1:-}" == takeback ]]; then
  shift
  mvn -q -pl bench -am install -DskipTests
  mvn -q -pl bench exec:java -Dexec.mainClass=io.vfiobroker.bench.TakeBackBench -Dexec.args="${*:-}"
  exit
fi
if [[ "${1:-}" == lease ]]; then
  shift
  mvn -q -pl bench -am install -DskipTests
  mvn -q -pl bench exec:java -Dexec.mainClass=io.vfiobroker.bench.LeaseBench -Dexec.args="${*:-}"
  exit
fi
command -v lspci >/dev/null || { apt-get update -qq && apt-get install -y -qq pciutils; }
mvn -q -pl bench -am install -DskipTests
mvn -q -pl bench exec:java -Dexec.mainClass=io.vfiobroker.bench.InventoryBench -Dexec.args="${*:-}"
# uevent -> Events.Watch latency (target p99 < 20 ms): HotplugBench [pfs] [vfsPerPf] [iterations]
mvn -q -pl bench exec:java -Dexec.mainClass=io.vfiobroker.bench.HotplugBench -Dexec.args="${HOTPLUG_ARGS:-16 64 1000}"
