#!/usr/bin/env bash
# Builds cascade-lm and runs the CPU engine benchmark (bench/results/engine-cpu.{md,json}).
# Arguments go to EngineBenchmark, e.g. --types Q8_0 --prefill 128 --decode 16.
# The random models (about 4.5 GB for all three types) are written once under bench/target/models/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
mvn -q -B -DskipTests package
# Weights are memory-mapped, outside the heap; the heap holds one tensor while a model file is generated
# (the F16 embedding: 0.5 GB) and the activations.
export BENCH_COMMAND="bench/run-engine-benchmark.sh${*:+ $*}"
exec "$JAVA_HOME/bin/java" -Xmx6g --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -cp "bench/target/cascade-lm-bench.jar:bench/target/lib/*" cascadelm.bench.EngineBenchmark "$@"
