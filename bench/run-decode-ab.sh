#!/usr/bin/env bash
# Decode speed of two gpu-kernels builds side by side in one JVM (cascadelm.bench.DecodeAB): their decode
# steps alternate, so a busy shared machine slows both alike. Builds this tree's bench module first.
# Usage: bench/run-decode-ab.sh --a KERNELS_A --b KERNELS_B [--a-name A] [--b-name B] [--types F16,Q8_0,Q4_0]
#        [--steps 96] [--out FILE]
# KERNELS_* is a gpu-kernels classes directory or jar, e.g. main's gpu-kernels/target/classes and this one's.
# The random models are those of run-engine-benchmark.sh (bench/target/models/, written on first use).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
mvn -q -B -DskipTests package -pl bench -am
exec "$JAVA_HOME/bin/java" -Xmx6g --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -cp "bench/target/cascade-lm-bench.jar:bench/target/lib/*" cascadelm.bench.DecodeAB "$@"
