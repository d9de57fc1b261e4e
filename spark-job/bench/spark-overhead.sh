#!/usr/bin/env bash
# Spark's overhead on the sample corpus: the engine called directly (DocumentProcessor in a loop, what an
# executor does) against the whole Spark job in local mode (session start, reading, balancing, Parquet commit,
# Arrow copy, _SUMMARY.json), each in its own JVM started as bin/cascade-job starts the job, interleaved:
# direct, spark; spark, direct; direct, spark ... One table row per run with wall and CPU seconds (the process's user +
# system time: on a shared machine the steadier reading), the seconds spent in the model, and the share of
# the machine's CPU that other processes took meanwhile; then the spark/direct ratio of each round.
# Writes bench/results/spark-overhead-<UTC date and time>.md and prints it.
#
# Usage: spark-job/bench/spark-overhead.sh [ROUNDS] [key=value settings...]
#   ROUNDS defaults to 3; settings default to the demo model with answer-max-tokens=16 (as conf/cascade.properties).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds="${1:-3}"; shift || true
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "spark-overhead: ROUNDS must be a whole number ≥ 1, got '$rounds'" >&2; exit 2; }
settings=("$@")
[[ ${#settings[@]} -eq 0 ]] && settings=(model="$root/sample-data/models/demo-Q8_0.gguf" answer-max-tokens=16)
"$root/bin/cascade-job" --version >/dev/null   # builds when needed
# Not timed: a small job, so that bin/cascade-job's class-data archive exists (the first job run after a build
# writes it) and every timed JVM starts as a user's second and later runs do.
warm="$(mktemp -d)"; trap 'rm -rf "$warm"' EXIT
echo '{"doc_id": "warm-up", "text": "The ferry left the landing at dawn."}' > "$warm/documents.jsonl"
"$root/bin/cascade-job" --corpus "$warm/documents.jsonl" --questions "$root/sample-data/corpus/questions.jsonl" \
  --output "$warm/out" --rows 0 --conf model="$root/sample-data/models/demo-Q8_0.gguf" --conf summary-max-tokens=1 \
  --conf answer-max-tokens=1 >/dev/null 2>&1 || { echo "spark-overhead: the warm-up job failed" >&2; exit 1; }
docs="$root/sample-data/corpus/documents.jsonl"; questions="$root/sample-data/corpus/questions.jsonl"
hz="$(getconf CLK_TCK)"; cores="$(nproc)"

# Busy and total jiffies of the whole machine (the first line of /proc/stat).
machine_cpu() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
field() { sed -E "s/.*\"$1\":([0-9.]+).*/\1/" <<<"$2"; }

rows=(); ratios=(); wall_ratios=(); cpu_ratios=(); outside=()
for ((i = 1; i <= rounds; i++)); do
  declare -A wall=() cpu=() model=()
  # Odd rounds run direct first, even rounds spark first: a machine that drifts faster or slower over the
  # run (shared hosts do, by several per cent) then favours neither mode in the median.
  order=(direct spark); (( i % 2 == 0 )) && order=(spark direct)
  for mode in "${order[@]}"; do
    read -r busy0 total0 < <(machine_cpu)
    line="$(CASCADE_JOB_MAIN=cascadelm.spark.OverheadBenchmark CASCADE_JOB_JAVA_OPTS="-Xmx4g -Dcascadelm.quiet=true" \
      "$root/bin/cascade-job" "$mode" "$docs" "$questions" "${settings[@]}" 2>/dev/null | tail -1)"
    read -r busy1 total1 < <(machine_cpu)
    [[ "$line" == *'"mode"'* ]] || { echo "spark-overhead: the $mode run failed (run it by hand to see why)" >&2; exit 1; }
    w="$(field seconds "$line")"; c="$(field cpu_seconds "$line")"; m="$(field model_seconds "$line")"; b="$(field batch_seconds "$line")"
    others="$(awk -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) -v c="$c" -v hz="$hz" \
      'BEGIN { o = (b / hz - c) / (t / hz); printf "%.0f %%", (o < 0 ? 0 : o) * 100 }')"
    wall[$mode]="$w"; cpu[$mode]="$c"; model[$mode]="$m"
    rows+=("| $i | $mode | $(field documents "$line") | $(field tokens "$line") | $w | $c | $m | $(awk -v w="$w" -v b="$b" 'BEGIN{printf "%.2f", w - b}') | $(awk -v b="$b" -v m="$m" 'BEGIN{printf "%.2f", b - m}') | $(field tokens_per_second "$line") | $(field documents_per_hour "$line") | $others |")
    echo "round $i $mode: wall ${w} s, CPU ${c} s, model ${m} s, others used ${others} of the CPU" >&2
  done
  wr="$(awk -v s="${wall[spark]}" -v d="${wall[direct]}" 'BEGIN{printf "%.3f", s / d}')"
  cr="$(awk -v s="${cpu[spark]}" -v d="${cpu[direct]}" 'BEGIN{printf "%.3f", s / d}')"
  # Spark's seconds outside the model, beyond what direct spends there, as a share of direct's wall: the
  # overhead with the model's own run-to-run drift taken out (it hides nothing Spark adds around the model).
  fr="$(awk -v ws="${wall[spark]}" -v ms="${model[spark]}" -v wd="${wall[direct]}" -v md="${model[direct]}" \
    'BEGIN{printf "%.4f", ((ws - ms) - (wd - md)) / wd}')"
  wall_ratios+=("$wr"); cpu_ratios+=("$cr"); outside+=("$fr")
  ratios+=("| $i | ${order[*]} | $wr | $(awk -v r="$wr" 'BEGIN{printf "%+.1f %%", (r - 1) * 100}') | $cr | $(awk -v r="$cr" 'BEGIN{printf "%+.1f %%", (r - 1) * 100}') | $(awk -v r="$fr" 'BEGIN{printf "%+.1f %%", r * 100}') |")
  unset wall cpu model
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
mw="$(median "${wall_ratios[@]}")"; mc="$(median "${cpu_ratios[@]}")"; mo="$(median "${outside[@]}")"

mkdir -p "$root/bench/results"
result="$root/bench/results/spark-overhead-$(date -u +%Y-%m-%dT%H%MZ).md"
{
  echo "# Spark overhead on the sample corpus ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "Command: \`spark-job/bench/spark-overhead.sh $rounds${*:+ $*}\`. Machine: $cores cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs),"
  echo "vector width $(grep -qw avx512f /proc/cpuinfo && echo 'AVX-512' || echo 'AVX2 or less'). Settings: ${settings[*]}."
  echo "direct = DocumentProcessor in a loop (the executor's work, no Spark); spark = the whole job in local mode."
  echo "Each row its own JVM, started as bin/cascade-job starts the job; wall from the start of main; CPU = the"
  echo "process's user + system seconds (JVM start included); model = seconds documents held the model; set-up"
  echo "and output = wall − the document loop (direct) or the job's batches (spark); around model = batches − model;"
  echo "others = the share of the machine's CPU other processes used during the run."
  echo
  echo "| round | mode | documents | tokens | wall s | CPU s | model s | set-up and output s | around model s | tokens/s | documents/hour | others |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "outside the model = ((spark wall − spark model) − (direct wall − direct model)) / direct wall: Spark's cost"
  echo "with the model's run-to-run drift taken out."
  echo
  echo "| round | order | wall spark/direct | overhead (wall) | CPU spark/direct | overhead (CPU) | outside the model |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  printf '%s\n' "${ratios[@]}"
  echo
  echo "Median over $rounds rounds: wall $(awk -v r="$mw" 'BEGIN{printf "%+.1f %%", (r - 1) * 100}'), CPU $(awk -v r="$mc" 'BEGIN{printf "%+.1f %%", (r - 1) * 100}'), outside the model $(awk -v r="$mo" 'BEGIN{printf "%+.1f %%", r * 100}') (target: ≤ +10 %)."
} > "$result"
cat "$result"
