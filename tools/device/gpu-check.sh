#!/usr/bin/env bash
# Runs the GPU-tagged tests and the GPU engine benchmark on a machine with an NVIDIA GPU and no Java or Maven.
#
#   tools/device/gpu-check.sh DIR [bench]
#
# DIR (made by tools/device/prepare.sh on the build machine) holds: jre.tar.xz (a jlink Java 25 runtime;
# else $JRE or .device/jre.tar.xz),
# lib/*.jar (the project's and their runtime dependencies), tests/*.jar (test classes and fixtures) and
# junit-platform-console-standalone.jar. With "bench" it also runs cascadelm.bench.GpuEngineBenchmark.
# Logs and reports go to $OUT (default /tmp/gpu-check); a short table is printed last.
set -euo pipefail
DIR=${1:?usage: gpu-check.sh DIR [bench]}
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
JRE=${JRE:-$DIR/jre.tar.xz}
[ -f "$JRE" ] || JRE=.device/jre.tar.xz
if [ ! -x /tmp/jre/bin/java ]; then tar xJf "$JRE" -C /tmp; fi
JAVA=/tmp/jre/bin/java
CP=$(ls "$DIR"/lib/*.jar "$DIR"/tests/*.jar | tr '\n' ':')
FLAGS="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt" || true

set +e
timeout "${TEST_TIMEOUT:-300}" $JAVA $FLAGS -jar "$DIR/junit-platform-console-standalone.jar" execute --class-path "$CP" \
    --include-tag gpu --scan-class-path --details=tree --disable-banner \
    --reports-dir "$OUT/junit" > "$OUT/tests.log" 2>&1
TESTS_RC=$?
set -e
grep -E "worst \|Δ\|" "$OUT/tests.log" | sort | uniq > "$OUT/logit-errors.txt" || true

if [ "${2:-}" = "bench" ]; then
    timeout "${BENCH_TIMEOUT:-300}" $JAVA $FLAGS -Xmx32g -cp "$CP" cascadelm.bench.GpuEngineBenchmark /dev/shm/cascade-models "$OUT/gpu-engine.md" \
        "${TYPES:-F16,Q8_0}" "${PROMPT:-2048}" "${DECODE:-128}" "${CHUNK:-512}" > "$OUT/bench.log" 2>&1 || echo "benchmark failed: see bench.log"
fi

echo
echo "== GPU tests (exit $TESTS_RC) =="
python3 - "$OUT/junit" <<'PY'
import sys, glob, xml.etree.ElementTree as ET
rows = {}
for f in glob.glob(sys.argv[1] + "/*.xml"):
    for case in ET.parse(f).getroot().iter("testcase"):
        cls = case.get("classname", "?").split(".")[-1]
        r = rows.setdefault(cls, [0, 0, 0, []])
        if case.find("failure") is not None or case.find("error") is not None:
            r[1] += 1
            r[3].append(case.get("name"))
        elif case.find("skipped") is not None:
            r[2] += 1
        else:
            r[0] += 1
print("| class | passed | failed | skipped |")
print("|---|---:|---:|---:|")
for cls, (p, f, s, names) in sorted(rows.items()):
    print(f"| {cls} | {p} | {f} | {s} |")
for cls, (p, f, s, names) in sorted(rows.items()):
    for n in names[:40]:
        print(f"FAILED {cls}: {n}")
PY
cat "$OUT/logit-errors.txt"
if [ -f "$OUT/gpu-engine.md" ]; then echo; echo "== GPU engine =="; cat "$OUT/gpu-engine.md"; fi
