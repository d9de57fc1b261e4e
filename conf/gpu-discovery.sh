#!/usr/bin/env bash
# Spark resource discovery script for GPUs (spark.executor.resource.gpu.discoveryScript): prints the
# GPU indices of this node in the JSON form Spark expects, e.g. {"name": "gpu", "addresses": ["0","1"]}.
# With no nvidia-smi (no driver) it reports no GPUs, and the job runs on the CPU backend.
set -euo pipefail
if command -v nvidia-smi >/dev/null 2>&1; then
  ids="$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | tr -d ' ' | sed 's/.*/"&"/' | paste -sd, -)"
else
  ids=""
fi
echo "{\"name\": \"gpu\", \"addresses\": [${ids}]}"
