#!/bin/bash
# Phase 4 of the demo model, on the device: fresh corpus generated here, fine-tune, export, evaluate.
set -u
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
BUDGET=${BUDGET:-370}
# the script runs from a copy beside tools/reference (which it imports), so the working tree stays as it is
TT=/tmp/tt/tools; rm -rf /tmp/tt; mkdir -p $TT/train; cp -r tools/reference $TT/
cp .device/train/train.py .device/train/config.json tools/train/tokenizer.json $TT/train/
tar xJf .device/jre.tar.xz -C /tmp
J=/tmp/jre/bin/java
CP=$(ls .device/train/jars/*.jar | tr '\n' ':')
C=/tmp/corp; mkdir -p $C
gen() { $J --add-modules jdk.incubator.vector -cp "$CP" cascadelm.model.cli.Main corpus --seed $1 --out $C/$2 \
          --documents $3 --min-words $4 --max-words $5 > $C/$2.log 2>&1; }
for i in 1 2 3 4 5 6 7 8; do gen $((300 + i)) long$i ${NLONG:-2000} 1000 20000 & done
for i in 1 2 3 4; do gen $((400 + i)) short$i ${NSHORT:-5000} 500 1400 & done
gen 901 held-short 300 500 1400 &
gen 902 held-long 300 1500 20000 &
wait
el "corpus generated"; grep -h wrote $C/*.log; du -sh $C
sha256sum $C/held-short/documents.jsonl $C/held-long/documents.jsonl
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
${PY:-python3} $TT/train/train.py train --train $C/long*/documents.jsonl $C/short*/documents.jsonl \
  --heldout $C/held-short/documents.jsonl $C/held-long/documents.jsonl --tokenizer $TT/train/tokenizer.json \
  --out /tmp/run4 --time-budget $BUDGET --lr 8e-4 --warmup 100 --init-gguf .device/train/demo-F16.gguf \
  --prev-run .device/train/run3 --answer-weight 25 --episode-mix 0.1,0.6,0.15,0.15 \
  --qa-kind-weights count=3,born=2.5,give=2 --qa-whole-prob 0.35 --qa-gap-prob 0.1 --passkey-gap-prob 0.5 --passkey-weight 10 \
  "$@" > $OUT/train-stdout.txt 2>&1
el "train.py exit $?"
R=/tmp/run4
sha256sum $R/demo-*.gguf | tee $R/sha256.txt
cp $C/*.log $R/ 2>/dev/null
split -b 12M $R/demo-F16.gguf $OUT/demo-F16.gguf.part-
cp $R/demo-Q8_0.gguf $R/demo.hf-logits.json $R/metrics.json $OUT/ 2>/dev/null
tar cJf $OUT/run4.tar.xz -C $R --exclude='demo-*.gguf' --exclude='demo.hf-logits.json' .
ls -la $OUT
grep -E "measured|trained|QA|ROUGE|passkey \(|done in|HF logits|hard stop|Error|error" $OUT/train-stdout.txt | cut -c1-600
el end
