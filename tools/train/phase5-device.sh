#!/bin/bash
# Phase 5 of the demo model, on the device: fresh corpus generated here, fine-tune at a 4,096-token context on
# rows whose QA and summary contexts are shaped as the default cascading cache holds them (cache_view.py),
# export, evaluate. Carried: .device/jre.tar.xz and .device/demo5 (jars, phase 4's F16 file, run4 = its log and
# training.json, train.py, cache_view.py, config.json, this script as run.sh). Run from the repository root.
set -u
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
BUDGET=${BUDGET:-320}
D=.device/demo5
B=${TMPBASE:-/tmp}   # scratch (a CPU smoke test of this script sets another)
# the script runs from a copy beside tools/reference (which it imports), so the working tree stays as it is
TT=$B/tt/tools; rm -rf $B/tt; mkdir -p $TT/train; cp -r tools/reference $TT/
cp $D/train.py $D/cache_view.py $D/config.json tools/train/tokenizer.json $TT/train/
tar xJf .device/jre.tar.xz -C $B
J=$B/jre/bin/java
CP=$(ls $D/jars/*.jar | tr '\n' ':')
C=$B/corp; rm -rf $C; mkdir -p $C
gen() { $J --add-modules jdk.incubator.vector -cp "$CP" cascadelm.model.cli.Main corpus --seed $1 --out $C/$2 \
          --documents $3 --min-words $4 --max-words $5 > $C/$2.log 2>&1; }
for i in 1 2 3 4 5 6 7 8; do gen $((500 + i)) long$i ${NLONG:-2500} 1000 20000 & done
for i in 1 2 3 4; do gen $((600 + i)) short$i ${NSHORT:-4000} 500 1400 & done
gen 901 held-short 300 500 1400 &
gen 902 held-long 300 1500 20000 &
wait
el "corpus generated"; grep -h wrote $C/*.log; du -sh $C
sha256sum $C/held-short/documents.jsonl $C/held-long/documents.jsonl
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
${PY:-python3} $TT/train/train.py train --train $C/long*/documents.jsonl $C/short*/documents.jsonl \
  --heldout $C/held-short/documents.jsonl $C/held-long/documents.jsonl --tokenizer $TT/train/tokenizer.json \
  --out $B/run5 --time-budget $BUDGET --lr 6e-4 --warmup 100 --init-gguf $D/demo-F16.gguf --prev-run $D/run4 \
  --seq-len 4096 --batch-rows 32 --answer-weight 25 --episode-mix 0.1,0.6,0.2,0.1 \
  --qa-kind-weights count=3,born=2.5,give=2 --qa-whole-prob 0.35 --qa-gap-prob 0 --passkey-gap-prob 0.5 --passkey-weight 10 \
  --set data.max_depth_tokens=3800 --set data.summary_max_tokens=4000 \
  --set data.view.qa_prob=0.7 --set data.view.summary_prob=0.5 --set 'data.view.widths={"768":0.5,"512":0.3,"256":0.2}' \
  --set eval.view_width=768 --set 'eval.passkey_lengths=[256,1024,2000,4000]' \
  "$@" > $OUT/train-stdout.txt 2>&1
el "train.py exit $?"
R=$B/run5
sha256sum $R/demo-*.gguf | tee $R/sha256.txt
cp $C/*.log $R/ 2>/dev/null
split -b 12M $R/demo-F16.gguf $OUT/demo-F16.gguf.part-
cp $R/demo-Q8_0.gguf $R/demo.hf-logits.json $R/metrics.json $OUT/ 2>/dev/null
tar cJf $OUT/run5.tar.xz -C $R --exclude='demo-*.gguf' --exclude='demo.hf-logits.json' .
ls -la $OUT
grep -E "measured|trained|QA|ROUGE|summaries|passkey \(|done in|HF logits|hard stop|Error|error" $OUT/train-stdout.txt | cut -c1-900
el end
