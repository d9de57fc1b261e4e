#!/usr/bin/env bash
# One matmul of two gpu-kernels builds side by side in one JVM (cascadelm.bench.MatmulAB), calls alternating.
# Usage: bench/run-matmul-ab.sh --a KERNELS_A --b KERNELS_B [--a-name A] [--b-name B] [--types F16,Q8_0,Q4_0]
#        [--shapes 8192x2048,2048x8192,2048x2048,512x2048] [--n 1] [--rounds 20] [--threads N]
# Extra JVM options (e.g. -XX:UseAVX=2 to time the 8-lane paths on an AVX-512 machine) go in JAVA_OPTS.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
mvn -q -B -DskipTests package -pl bench -am
exec "$JAVA_HOME/bin/java" -Xmx6g ${JAVA_OPTS:-} --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -cp "bench/target/cascade-lm-bench.jar:bench/target/lib/*" cascadelm.bench.MatmulAB "$@"
