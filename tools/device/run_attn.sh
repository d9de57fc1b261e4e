#!/usr/bin/env bash
# Runs on the GPU machine, from the main checkout's root, after tools/device/prepare_attn.sh staged
# .device/attn/. Checks, then times; logs and JSON go to $OUT; short tables last.
#   bash .device/attn/run_attn.sh [attn|cascade|bench|anchor|java ...]     (default: all five)
# java: the GPU-tagged Java tests of the flash kernels and the device cache, then
# cascadelm.bench.GpuAttentionBenchmark (needs a jlink Java 25 runtime: $JRE or .device/jre.tar.xz).
set -o pipefail
OUT=${OUT:-/tmp/attn-out}; mkdir -p "$OUT"
cd "$(dirname "$0")"
export PYTHONUNBUFFERED=1
steps=${*:-attn cascade java bench anchor}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw,memory.used --format=csv | tee "$OUT/gpu.txt"
rc=0
for s in $steps; do
  case $s in
    attn) python3 attn_check.py --cubin flash_attention.cubin --out "$OUT" 2>&1 | tee "$OUT/attn_check.log" || rc=1 ;;
    cascade) python3 cascade_check.py --cubin-attn flash_attention.cubin --cubin-cache cascade_cache.cubin \
               --golden cascade_golden.json --out "$OUT" 2>&1 | tee "$OUT/cascade_check.log" || rc=1 ;;
    bench) python3 cascade_bench.py --cubin-attn flash_attention.cubin --cubin-cache cascade_cache.cubin \
               --out "$OUT" 2>&1 | tee "$OUT/cascade_bench.log" || rc=1 ;;
    anchor) python3 sdpa_anchor.py 2>&1 | tee "$OUT/sdpa_anchor.log" || rc=1 ;;
    java)
      JRE=${JRE:-../jre.tar.xz}
      [ -x /tmp/jre/bin/java ] || tar xJf "$JRE" -C /tmp
      CP=$(ls lib/*.jar tests/*.jar | tr '\n' ':')
      FLAGS="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g"
      /tmp/jre/bin/java $FLAGS -jar junit.jar execute --class-path "$CP" --select-class cascadelm.kernels.cuda.FlashAttentionTest \
        --select-class cascadelm.model.cuda.DeviceCascadeCacheTest --details=tree --disable-banner 2>&1 | tee "$OUT/java_tests.log" || rc=1
      /tmp/jre/bin/java $FLAGS -cp "$CP" cascadelm.bench.GpuAttentionBenchmark . "$OUT/gpu-attention-java.md" 2>&1 | tee "$OUT/java_bench.log" || rc=1 ;;
  esac
done
echo "==== summary"
for f in attn_check cascade_check java_tests java_bench cascade_bench sdpa_anchor; do
  [ -f "$OUT/$f.log" ] && { echo "-- $f"; grep -v '^{' "$OUT/$f.log" | grep -v '^$' | tail -25; }
done
exit $rc
