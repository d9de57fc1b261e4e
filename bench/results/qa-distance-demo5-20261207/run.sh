#!/usr/bin/env bash
# The commands that made this folder (2026-12-07, branch demo5; shared 2-core AVX-512 machine, runs niced).
# The corpora are regenerated, not committed (same seed, same bytes: their SHA-256 is in each qa.json); long-1m is
# qa-distance-demo-20261201's document (seed 4101), so its long-1m/ table there is the phase-4 model's at the old defaults.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=bench/results/qa-distance-demo5-20261207
model=sample-data/models/demo-Q8_0.gguf
defaults=(--cache-size 3072 --cascades 4 --sinks 64 --stride 512)   # = conf/ and CacheSettings.DEFAULTS (phase 5)
old=(--cache-size 1024 --cascades 4 --sinks 64 --stride 512)        # the defaults before phase 5

bin/cascade-lm corpus --seed 4101 --out /tmp/qa5/long-1m --documents 1 --min-words 960000 --max-words 960000 \
  --facts-per-doc 50 --fact-depth 0.05
# 8 documents of 3,000 words (about 3,600 tokens), 4 facts each in the first 30%: full attention fits 4,096.
bin/cascade-lm corpus --seed 4103 --out /tmp/qa5/short-4k --documents 8 --min-words 3000 --max-words 3000 \
  --facts-per-doc 4 --fact-depth 0.3

# 1. Cascade, sink and window at the new defaults (equal memory), 256 tokens to 32k between fact and question.
bin/cascade-lm eval qa --model $model --corpus /tmp/qa5/long-1m --cache cascade,sink,window "${defaults[@]}" \
  --distances 256,512,1k,2k,4k,8k,16k,32k --max-tokens 90000 --out $out/long-32k
# 2. Full attention inside the new trained context (every prompt under 4,096 tokens), and the cascade beside it.
bin/cascade-lm eval qa --model $model --corpus /tmp/qa5/short-4k --cache full,cascade "${defaults[@]}" \
  --distances 256,512,1k,2k,3k --max-tokens 4096 --out $out/fits-4k
# 3. The new model with the old defaults (M = 1,024, W = 256): what the model alone changed.
bin/cascade-lm eval qa --model $model --corpus /tmp/qa5/long-1m --cache cascade "${old[@]}" \
  --distances 256,512,1k,2k,3k,4k --max-tokens 62000 --out $out/old-defaults-4k
