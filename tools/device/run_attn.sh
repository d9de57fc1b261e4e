#!/usr/bin/env bash
# Runs on the GPU machine, from the staging folder's parent checkout, after tools/device/prepare_attn.sh staged
# DEST. Checks, then times; logs and JSON go to $OUT; short tables last.
#   bash DEST/run_attn.sh [sass|attn|cascade|sampling|prof|bench|anchor|java ...]  (default: all but prof, bench)
# sass: the Hopper kernel's machine code must hold HGMMA (wgmma) instructions. prof: Nsight Compute on one
# launch of each Hopper kernel (prof.py).
# java: the GPU-tagged Java tests of the flash kernels and the device cache, then
# cascadelm.bench.GpuAttentionBenchmark (needs a jlink Java 25 runtime: $JRE or ../jre.tar.xz).
# Each step has a time limit (a hung kernel must not eat the lease).
# anchor: sdpa_anchor.py with every length measured directly ($ANCHOR_MAX, default 1048576).
set -o pipefail
OUT=${OUT:-/tmp/attn-out}; mkdir -p "$OUT"
cd "$(dirname "$0")"
export PYTHONUNBUFFERED=1
steps=${*:-sass attn cascade sampling java anchor}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw,memory.used --format=csv | tee "$OUT/gpu.txt"
rc=0
for s in $steps; do
  case $s in
    sass) { n=$(cuobjdump --dump-sass flash_attention_sm90.cubin | grep -c HGMMA); m=$(cuobjdump --dump-sass flash_attention_sm90.cubin | grep -c "HMMA");
            echo "flash_attention_sm90.cubin: $n HGMMA, $m HMMA instructions"; [ "$n" -gt 0 ]; } 2>&1 | tee "$OUT/sass.log" || rc=1 ;;
    attn) timeout 120 python3 attn_check.py --cubin flash_attention.cubin --cubin90 flash_attention_sm90.cubin --out "$OUT" ${ATTN_ARGS:-} 2>&1 | tee "$OUT/attn_check.log" || rc=1 ;;
    cascade) timeout 90 python3 cascade_check.py --cubin-attn flash_attention.cubin --cubin90 flash_attention_sm90.cubin \
               --cubin-cache cascade_cache.cubin --golden cascade_golden.json --out "$OUT" 2>&1 | tee "$OUT/cascade_check.log" || rc=1 ;;
    sampling) timeout 150 python3 score_sampling.py --cubin flash_attention.cubin --cubin90 flash_attention_sm90.cubin \
               --cubin-cache cascade_cache.cubin --out "$OUT" 2>&1 | tee "$OUT/score_sampling.log" || rc=1 ;;
    bench) timeout 200 python3 cascade_bench.py --cubin-attn flash_attention.cubin --cubin-cache cascade_cache.cubin \
               --out "$OUT" 2>&1 | tee "$OUT/cascade_bench.log" || rc=1 ;;
    prof) timeout 150 ncu --clock-control none --kernel-name regex:'flash_attn3_hd128_bf16|attn_colsum4' --launch-skip 2 \
            --launch-count 2 --section SpeedOfLight --section WarpStateStats --section MemoryWorkloadAnalysis \
            --section ComputeWorkloadAnalysis --section SchedulerStats python3 prof.py --cubin flash_attention.cubin \
            --cubin90 flash_attention_sm90.cubin 2>&1 | tee "$OUT/ncu.log" || rc=1 ;;
    anchor) timeout 150 python3 sdpa_anchor.py --max-measured "${ANCHOR_MAX:-1048576}" 2>&1 | tee "$OUT/sdpa_anchor.log" || rc=1 ;;
    java)
      JRE=${JRE:-../jre.tar.xz}
      [ -x /tmp/jre/bin/java ] || tar xJf "$JRE" -C /tmp
      CP=$(ls lib/*.jar tests/*.jar | tr '\n' ':')
      FLAGS="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g"
      timeout 240 /tmp/jre/bin/java $FLAGS -jar junit.jar execute --class-path "$CP" --select-class cascadelm.kernels.cuda.FlashAttentionTest \
        --select-class cascadelm.model.cuda.DeviceCascadeCacheTest --details=tree --disable-banner 2>&1 | tee "$OUT/java_tests.log" || rc=1
      timeout 200 /tmp/jre/bin/java $FLAGS -cp "$CP" cascadelm.bench.GpuAttentionBenchmark . "$OUT/gpu-attention-java.md" \
        ${LENGTHS:-32768,131072,262144,1048576} ${SCORE_STEP:-1} 2>&1 | tee "$OUT/java_bench.log" || rc=1 ;;
  esac
done
echo "==== summary"
for f in sass attn_check cascade_check score_sampling java_tests java_bench cascade_bench sdpa_anchor; do
  [ -f "$OUT/$f.log" ] && { echo "-- $f"; grep -v '^{' "$OUT/$f.log" | grep -v '^$' | tail -${TAILN:-30}; }
done
exit $rc
