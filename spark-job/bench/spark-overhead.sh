#!/usr/bin/env bash
# Spark's overhead on the sample corpus: the engine called directly vs. the whole Spark job (local mode),
# each in its own JVM, alternating for ROUNDS rounds. Writes bench/results/spark-overhead-<date>.md.
# Usage: spark-job/bench/spark-overhead.sh [ROUNDS] [key=value settings...]   (builds via bin/cascade-job)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds="${1:-2}"; shift || true
settings=("$@")
[[ ${#settings[@]} -eq 0 ]] && settings=(model="$root/sample-data/models/demo-Q8_0.gguf" answer-max-tokens=16)
"$root/bin/cascade-job" --version >/dev/null   # builds when needed
JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
flags=(--add-modules jdk.incubator.vector $(sed -n 's/^spark.driver.extraJavaOptions *//p' "$root/conf/spark-defaults.conf"))
cp="$root/spark-job/target/cascade-lm-spark.jar:$root/spark-job/target/lib/*"
docs="$root/sample-data/corpus/documents.jsonl"; questions="$root/sample-data/corpus/questions.jsonl"
mkdir -p "$root/bench/results"
result="$root/bench/results/spark-overhead-$(date +%Y-%m-%d).md"
lines=()
for ((i = 1; i <= rounds; i++)); do
  for mode in direct spark; do
    load="$(cut -d' ' -f1 /proc/loadavg)"
    line="$(SPARK_LOCAL_IP=127.0.0.1 "$JAVA_HOME/bin/java" -Xmx4g "${flags[@]}" -Dlog4j2.configurationFile="$root/conf/log4j2.properties" \
      -Dcascadelm.quiet=true -cp "$cp" cascadelm.spark.OverheadBenchmark "$mode" "$docs" "$questions" "${settings[@]}" 2>/dev/null | tail -1)"
    echo "round $i: $line (load before: $load)" >&2
    lines+=("| $i | $(echo "$line" | sed -E 's/.*"mode":"([a-z]+)".*"documents":([0-9]+),"tokens":([0-9]+),"seconds":([0-9.]+),"tokens_per_second":([0-9]+),"documents_per_hour":([0-9]+).*/\1 | \2 | \3 | \4 | \5 | \6/') | $load |")
  done
done
{
  echo "# Spark overhead on the sample corpus ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs). Settings: ${settings[*]}."
  echo "direct = DocumentProcessor in a loop (the executor's work, no Spark); spark = bin/cascade-job's whole run"
  echo "(session start, reading, balancing, Parquet commit, Arrow copy). Each row its own JVM."
  echo
  echo "| round | mode | documents | tokens | seconds | tokens/s | documents/hour | load average before |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${lines[@]}"
} > "$result"
cat "$result"
