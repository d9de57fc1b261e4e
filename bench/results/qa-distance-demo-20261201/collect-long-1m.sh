#!/usr/bin/env bash
# Copies the long run's files from where it runs (default /tmp/qa/out/long-1m-m1024) into long-1m/ and rewrites
# the table between the markers in bench/results/README.md from them. Safe to run while it still runs: qa.json
# is rewritten whole after each policy ("complete": false until the end) and answers.jsonl has every answer so far.
set -euo pipefail
cd "$(dirname "$0")/../../.."
from=${1:-/tmp/qa/out/long-1m-m1024}
to=bench/results/qa-distance-demo-20261201/long-1m
mkdir -p "$to"
cp "$from"/qa.json "$from"/qa.png "$from"/qa-held.png "$to"/
if python3 -c "import json,sys; sys.exit(0 if json.load(open('$to/qa.json'))['complete'] else 1)"; then
  rm -f "$to/answers.jsonl"
  table_dir=$to
else
  cp "$from"/answers.jsonl "$to"/   # the policy still being read is only here
  table_dir=$(mktemp -d); cp "$to/answers.jsonl" "$table_dir/"
fi
python3 - "$table_dir" <<'PY'
import re, subprocess, sys
out = subprocess.run([sys.executable, "bench/results/qa-distance-demo-20261201/analyse.py", sys.argv[1]],
                     check=True, capture_output=True, text=True).stdout
table = "\n".join(line for line in out.splitlines() if not line.startswith("###")).strip()
p = "bench/results/README.md"
s = open(p).read()
s2 = re.sub(r"(<!-- long-1m table -->\n).*?(\n<!-- end long-1m table -->)", lambda m: m.group(1) + table + m.group(2), s, flags=re.S)
assert s2 != s or table in s, "markers not found"
open(p, "w").write(s2)
PY
echo "long-1m: $(python3 -c "import json; d=json.load(open('$to/qa.json')); print('complete' if d['complete'] else 'partial', [(p['policy'], p['n']) for p in d['policies']])")"
