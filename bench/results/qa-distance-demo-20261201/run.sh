#!/usr/bin/env bash
# The commands that made this folder (2026-12-01, qa-eval branch; shared 2-core AVX-512 machine).
# The corpora are regenerated, not committed (same seed, same bytes: their SHA-256 is in each qa.json).
# The long run took hours on the shared machine: run it niced, in the background (e.g. setsid nohup nice -n 19 ...).
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=bench/results/qa-distance-demo-20261201
model=sample-data/models/demo-Q8_0.gguf
defaults=(--cache-size 1024 --cascades 4 --sinks 64 --stride 512)   # = conf/ and CacheSettings.DEFAULTS

# One document of 959,995 words (1,141,000 tokens), its 50 questions' facts in the first 5% (tokens 1.1K-57K).
bin/cascade-lm corpus --seed 4101 --out /tmp/qa/long-1m --documents 1 --min-words 960000 --max-words 960000 \
  --facts-per-doc 50 --fact-depth 0.05
# 8 documents of 1,500 words (about 1,800 tokens), 4 facts each in the first 30%: full attention fits.
bin/cascade-lm corpus --seed 4102 --out /tmp/qa/short-2k --documents 8 --min-words 1500 --max-words 1500 \
  --facts-per-doc 4 --fact-depth 0.3

# 1. Window, sink and cascade at equal memory, 256 tokens to 1M between fact and question (one read per policy).
bin/cascade-lm eval qa --model $model --corpus /tmp/qa/long-1m --cache cascade,sink,window "${defaults[@]}" \
  --distances 256,512,1k,2k,4k,8k,16k,32k,64k,128k,256k,512k,1m --out $out/long-1m
# 2. With full attention, where it fits the trained context (every prompt under 2,048 tokens).
bin/cascade-lm eval qa --model $model --corpus /tmp/qa/short-2k --cache full,window,sink,cascade "${defaults[@]}" \
  --distances 256,512,1k --max-tokens 2048 --out $out/fits-2k
# 3. Cascade's selection rule, score (the default) against stride, inside its horizon.
for sel in score stride; do
  bin/cascade-lm eval qa --model $model --corpus /tmp/qa/long-1m --cache cascade --select $sel "${defaults[@]}" \
    --distances 256,512,1k,2k,3k,4k --max-tokens 62000 --out $out/select-$sel-4k
done
# 4. A second cache size within the trained context: M = 1536 (W = 384), stride 256 (64 + 1536 + 256 <= 2048).
bin/cascade-lm eval qa --model $model --corpus /tmp/qa/long-1m --cache cascade --cache-size 1536 --cascades 4 --sinks 64 \
  --stride 256 --distances 256,512,1k,2k,3k,4k,6k --max-tokens 64000 --out $out/m1536-6k
# 5. The horizon moved: C = 8 cascades of W = 128 at the same memory (horizon 32,640).
bin/cascade-lm eval qa --model $model --corpus /tmp/qa/long-1m --cache cascade --cache-size 1024 --cascades 8 --sinks 64 \
  --stride 512 --distances 256,1k,2k,4k,8k,16k,32k,64k --max-tokens 130000 --out $out/c8-64k
# Tables of the README from the JSON files.
python3 $out/analyse.py $out/long-1m $out/fits-2k $out/select-score-4k $out/select-stride-4k $out/m1536-6k $out/c8-64k
