#!/usr/bin/env bash
# Extracts the executable jar for bin/vfio-broker and records a CDS archive from a training run.
set -euo pipefail
target=$1
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
rm -rf "$target/cli"
"$java" -Djarmode=tools -jar "$target/vfio-broker-exec.jar" extract --destination "$target/cli" > /dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Training run: the daemon starts on a demo host and exits once its context is up (Spring's CDS hook), so the
# archive holds Spring, gRPC, Netty and the CLI's own classes. A JDK that differs just ignores it (-Xshare:auto).
"$java" -XX:ArchiveClassesAtExit="$target/cli/vfio-broker.jsa" -Dspring.context.exit=onRefresh -Djava.io.tmpdir="$tmp" \
  -Dlogback.configurationFile=vfio-broker-cli-logback.xml -Xlog:cds=off -Xlog:cds+dynamic=off \
  -jar "$target/cli/vfio-broker-exec.jar" daemon --demo --port 0 > "$tmp/training.log" 2>&1 \
  || { echo "extract-cli: CDS training run failed (the CLI still works, only slower to start):" >&2; tail -5 "$tmp/training.log" >&2;
       rm -f "$target/cli/vfio-broker.jsa"; }
chmod -R a+rX "$target/cli"
