#!/usr/bin/env bash
# Extracts the executable jar for bin/vfio-broker and records a CDS archive of a CLI run.
set -euo pipefail
target=$1
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
rm -rf "$target/cli"
"$java" -Djarmode=tools -jar "$target/vfio-broker-exec.jar" extract --destination "$target/cli" > /dev/null
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
"$java" -jar "$target/cli/vfio-broker-exec.jar" generate-host --demo "$tree/host" > /dev/null
# The archive holds the classes a typical command loads; a JDK that differs just ignores it (-Xshare:auto).
"$java" -XX:ArchiveClassesAtExit="$target/cli/vfio-broker.jsa" -Dlogback.configurationFile=vfio-broker-cli-logback.xml \
  -jar "$target/cli/vfio-broker-exec.jar" devices --json --root "$tree/host" > /dev/null 2>&1 || rm -f "$target/cli/vfio-broker.jsa"
chmod -R a+rX "$target/cli"
