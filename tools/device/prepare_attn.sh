#!/usr/bin/env bash
# Builds the kernels on this (build) machine and stages everything the GPU run needs in
# <main checkout>/.device/attn/ (git-ignored; the device tool sends the main checkout's tree).
#   tools/device/prepare_attn.sh [MAIN_CHECKOUT]        (default /work/main)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
dest=${1:-/work/main}/.device/attn
mkdir -p "$dest"
src=$here/gpu-kernels/src/main/cuda
for k in flash_attention cascade_cache; do
  # sm_90 machine code for the H100 runs; compute_80 PTX for the portable path (checked to assemble).
  nvcc -cubin -arch=sm_90 -O3 -Xptxas -v "$src/$k.cu" -o "$dest/$k.cubin" 2> "$dest/$k.ptxas.txt"
  nvcc -ptx -arch=compute_80 -O3 "$src/$k.cu" -o "$dest/$k.ptx"
done
cp "$here"/tools/device/*.py "$here"/tools/device/cascade_golden.json "$here"/tools/device/run_attn.sh "$dest"/
cp /work/shared/bench/sdpa_anchor.py "$dest"/    # the anchor, read at run time, never committed here
grep -E "registers|spill" "$dest"/*.ptxas.txt | sed 's/^/  /' | head -20
du -sh "$dest"
