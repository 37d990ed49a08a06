#!/usr/bin/env bash
# Runs the benchmarks and prints their numbers. Usage: bench/run.sh [treeDir] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v lspci >/dev/null || { apt-get update -qq && apt-get install -y -qq pciutils; }
mvn -q -pl bench -am install -DskipTests
mvn -q -pl bench exec:java -Dexec.mainClass=io.vfiobroker.bench.InventoryBench -Dexec.args="${*:-}"
# uevent -> Events.Watch latency (target p99 < 20 ms): HotplugBench [pfs] [vfsPerPf] [iterations]
mvn -q -pl bench exec:java -Dexec.mainClass=io.vfiobroker.bench.HotplugBench -Dexec.args="${HOTPLUG_ARGS:-16 64 1000}"
