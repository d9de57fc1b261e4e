#!/usr/bin/env bash
# Runs the GPU-tagged tests and the GPU engine benchmark on a machine with an NVIDIA GPU and no Java or Maven.
#
#   tools/device/gpu-check.sh DIR [bench]
#
# DIR (made by tools/device/prepare.sh on the build machine) holds: jre.tar.xz (a jlink Java 25 runtime;
# else $JRE or .device/jre.tar.xz),
# lib/*.jar (the project's and their runtime dependencies), tests/*.jar (test classes and fixtures) and
# junit-platform-console-standalone.jar. With "bench" it also runs cascadelm.bench.GpuEngineBenchmark.
# Logs and reports go to $OUT (default /tmp/gpu-check); a short table is printed last.
set -euo pipefail
DIR=${1:?usage: gpu-check.sh DIR [bench]}
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
# The runtime: $JRE, else DIR/jre.tar.xz, else the shared .device/jre.tar.xz beside DIR (DIR = .device/<name>),
# else .device/jre.tar.xz under the working directory (the repository root).
if [ -z "${JRE:-}" ]; then
    for j in "$DIR/jre.tar.xz" "$DIR/../jre.tar.xz" .device/jre.tar.xz; do
        if [ -f "$j" ]; then JRE=$j; break; fi
    done
fi
if [ ! -x /tmp/jre/bin/java ]; then
    if [ ! -f "${JRE:-}" ]; then
        echo "gpu-check.sh: no Java runtime: set JRE to a jlink tar.xz, or put jre.tar.xz in $DIR or beside it" >&2
        exit 2
    fi
    tar xJf "$JRE" -C /tmp
fi
JAVA=/tmp/jre/bin/java
CP=$(ls "$DIR"/lib/*.jar "$DIR"/tests/*.jar | tr '\n' ':')
# DECODE_VERSION=v10 (the default here) checks and times decode version 10, which the library only uses with
# -Dcascadelm.cuda.decode=v10 until it has passed these tests on a GPU; DECODE_VERSION=v9 checks the library's default.
FLAGS="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g -Dcascadelm.cuda.decode=${DECODE_VERSION:-v10}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt" || true

set +e
timeout "${TEST_TIMEOUT:-300}" $JAVA $FLAGS -jar "$DIR/junit-platform-console-standalone.jar" execute --class-path "$CP" \
    --include-tag gpu --details=tree --disable-banner \
    --select-class cascadelm.kernels.cuda.CudaKernelsTest --select-class cascadelm.model.cuda.CudaSessionTest \
    --select-class cascadelm.kernels.cuda.FlashAttentionTest --select-class cascadelm.model.cuda.DeviceCascadeCacheTest \
    --select-class cascadelm.model.cuda.DecodeAttentionTest \
    > "$OUT/tests.log" 2>&1
TESTS_RC=$?
set -e
grep -E "worst \|Δ\|" "$OUT/tests.log" | sort | uniq > "$OUT/logit-errors.txt" || true

if [ "${2:-}" = "bench" ]; then
    timeout "${BENCH_TIMEOUT:-300}" $JAVA $FLAGS -Xmx32g -cp "$CP" cascadelm.bench.GpuEngineBenchmark /dev/shm/cascade-models "$OUT/gpu-engine.md" \
        "${TYPES:-BF16,F16,Q8_0}" "${PROMPT:-2048}" "${DECODE:-128}" "${CHUNK:-512}" > "$OUT/bench.log" 2>&1 || echo "benchmark failed: see bench.log"
fi

echo
echo "== GPU tests (exit $TESTS_RC) =="
# The jlink runtime has no java.xml (so no XML reports) nor jdk.zipfs (so no class-path scanning of jars): the console's tree and summary are the record.
echo "| tests | count |"
echo "|---|---:|"
grep -E "tests (successful|failed|skipped|aborted)" "$OUT/tests.log" | sed -E 's/^\[ *([0-9]+) (tests [a-z]+) *\]$/| \2 | \1 |/'
grep -E "✘" "$OUT/tests.log" | head -40 || true
cat "$OUT/logit-errors.txt"
if [ -f "$OUT/gpu-engine.md" ]; then echo; echo "== GPU engine =="; cat "$OUT/gpu-engine.md"; fi
