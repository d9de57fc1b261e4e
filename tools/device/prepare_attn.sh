#!/usr/bin/env bash
# Builds the kernels on this (build) machine and stages everything the GPU run needs in DEST (a git-ignored
# folder of the main checkout, e.g. /work/main/.device/attn: the device tool sends the main checkout's tree).
#   tools/device/prepare_attn.sh [DEST]        (default /work/main/.device/attn)
# Needs `mvn -B -DskipTests package` and `mvn -B -DskipTests test-compile` done first in this worktree.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
dest=${1:-/work/main/.device/attn}
mkdir -p "$dest"
src=$here/gpu-kernels/src/main/cuda
for k in flash_attention cascade_cache; do
  # sm_90 machine code for the Python harness; compute_80 PTX for the portable path (what Java loads).
  nvcc -cubin -arch=sm_90 -O3 -Xptxas -v "$src/$k.cu" -o "$dest/$k.cubin" 2> "$dest/$k.ptxas.txt"
  nvcc -ptx -arch=compute_80 -O3 "$src/$k.cu" -o "$dest/$k.ptx"
done
# The Hopper attention kernel (wgmma): sm_90a only, as a cubin (Python) and as PTX (Java, JIT-compiled on 9.0).
nvcc -cubin -gencode=arch=compute_90a,code=sm_90a -O3 -Xptxas -v "$src/flash_attention_sm90.cu" \
  -o "$dest/flash_attention_sm90.cubin" 2> "$dest/flash_attention_sm90.ptxas.txt"
nvcc -ptx -arch=compute_90a -O3 "$src/flash_attention_sm90.cu" -o "$dest/flash_attention_sm90.ptx"
if grep -E "bytes stack frame" "$dest"/flash_attention*.ptxas.txt | grep -vq " 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads"; then
  echo "an attention kernel uses local memory:"; grep -E "stack frame" "$dest"/flash_attention*.ptxas.txt | grep -v " 0 bytes stack"; exit 1
fi
if grep -q "C75" "$dest/flash_attention_sm90.ptxas.txt"; then
  echo "ptxas warns about the wgmma pipeline:"; grep C75 "$dest/flash_attention_sm90.ptxas.txt"; exit 1
fi
cp "$here"/tools/device/*.py "$here"/tools/device/cascade_golden.json "$here"/tools/device/run_attn.sh "$dest"/
cp /work/shared/bench/sdpa_anchor.py "$dest"/    # the anchor, read at run time, never committed here
# The Java side (GpuAttentionBenchmark, GPU-tagged tests).
M2=${M2:-$HOME/.m2/repository}
rm -rf "$dest/lib" "$dest/tests"; mkdir -p "$dest/lib" "$dest/tests"
cp "$here"/gpu-kernels/target/gpu-kernels-*.jar "$here"/model/target/cascade-lm-model.jar "$here"/bench/target/cascade-lm-bench.jar "$dest/lib/"
rm -f "$dest"/lib/*-tests.jar "$dest"/lib/*-sources.jar
for a in com/fasterxml/jackson/core/jackson-databind/2.21.2 com/fasterxml/jackson/core/jackson-core/2.21.2 \
         com/fasterxml/jackson/core/jackson-annotations/2.21 info/picocli/picocli/4.7.7; do
  cp "$M2/$a"/*.jar "$dest/lib/"
done
rm -f "$dest"/lib/*-sources.jar
(cd "$here/gpu-kernels/target/test-classes" && jar cf "$dest/tests/gpu-kernels-tests.jar" cascadelm/kernels/cuda/FlashAttentionTest*.class \
    cascadelm/kernels/cuda/GpuTest*.class)   # GpuTest: the extension that opens the device for the test classes
(cd "$here/model/target/test-classes" && jar cf "$dest/tests/model-tests.jar" cascadelm/model/cuda/DeviceCascadeCacheTest*.class)
j=$M2/org/junit/platform/junit-platform-console-standalone/1.14.1/junit-platform-console-standalone-1.14.1.jar
[ -f "$j" ] || j=${JUNIT_JAR:?junit-platform-console-standalone 1.14.1 not in ~/.m2: mvn dependency:copy it and pass JUNIT_JAR}
cp "$j" "$dest/junit.jar"
grep -E "registers|spill" "$dest"/*.ptxas.txt | sed 's/^/  /' | head -30
du -sh "$dest"
