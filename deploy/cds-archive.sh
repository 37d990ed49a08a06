#!/usr/bin/env bash
# Records the class data archive for one jar where it will run: a training run of the daemon on a demo host that
# exits once its context is up (Spring's CDS hook), so the archive holds Spring, gRPC, Netty and the CLI's classes.
# The JDK accepts the archive only for that jar, at that path, on the JDK that wrote it; bin/vfio-broker uses it
# when it sits beside the jar, and runs without it (-Xshare:auto) when it does not match.
# Usage: cds-archive.sh JAR ARCHIVE
set -euo pipefail
jar=$1
jsa=$2
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -f "$jsa"
if ! "$java" -XX:ArchiveClassesAtExit="$jsa" -Dspring.context.exit=onRefresh -Djava.io.tmpdir="$tmp" \
     -Dlogback.configurationFile=vfio-broker-cli-logback.xml -Xlog:cds=off -Xlog:cds+dynamic=off \
     -jar "$jar" daemon --demo --port 0 > "$tmp/training.log" 2>&1 || [ ! -s "$jsa" ]; then
  echo "cds-archive: the training run of $jar failed; vfio-broker works without the archive, only slower to start:" >&2
  tail -5 "$tmp/training.log" >&2
  rm -f "$jsa"
  exit 1
fi
chmod 0644 "$jsa"
