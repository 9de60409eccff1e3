#!/usr/bin/env bash
# Makes a trimmed Java 25 runtime (jlink) for machines without a JDK, such as the GPU machine:
#   bench/make-runtime.sh [OUT_DIR]        (default: dist/jre)
# Modules: java.base; jdk.incubator.vector (CPU SIMD); jdk.unsupported (sun.misc.Unsafe, used by
# libraries); java.desktop (ImageIO / BufferedImage for face decoding and report PNGs); java.logging
# and java.management (picocli and JMX-aware libraries reach them); jdk.zipfs (jar file systems).
# About 30-40 MiB unpacked with --compress=zip-6.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/dist/jre}
jdk=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
if [[ ! -x "$jdk/bin/jlink" ]]; then
  echo "make-runtime: no jlink in $jdk/bin; set JAVA_HOME to a Java 25 JDK" >&2
  exit 1
fi
modules=java.base,jdk.incubator.vector,jdk.unsupported,java.desktop,java.logging,java.management,jdk.zipfs
rm -rf "$out"
"$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages \
  --compress=zip-6 --strip-native-debug-symbols=objcopy=$(command -v objcopy || echo /usr/bin/objcopy) --output "$out"
echo "make-runtime: $out ($(du -sh "$out" | cut -f1)), $("$out/bin/java" -version 2>&1 | head -1)"
