#!/usr/bin/env bash
# Extracts the executable jar for bin/vfio-broker and records its CDS archive (deploy/cds-archive.sh).
set -euo pipefail
target=$1
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
rm -rf "$target/cli"
"$java" -Djarmode=tools -jar "$target/vfio-broker-exec.jar" extract --destination "$target/cli" > /dev/null
# A failed training run leaves the CLI working, only slower to start: not a build failure.
"$(dirname "$0")/../../../deploy/cds-archive.sh" "$target/cli/vfio-broker-exec.jar" "$target/cli/vfio-broker.jsa" || true
chmod -R a+rX "$target/cli"
