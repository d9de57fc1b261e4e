#!/usr/bin/env bash
# Fills DIR (default /work/main/.device/cuda) with what tools/device/gpu-check.sh needs, from a built
# worktree (mvn -B -q -DskipTests package, then test-compile; never install): jars only, to stay within the device's
# carry limit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${1:-/work/main/.device/cuda}
M2=${M2:-$HOME/.m2/repository}
rm -rf "$DIR"; mkdir -p "$DIR/lib" "$DIR/tests"
cp "$ROOT"/gpu-kernels/target/gpu-kernels-*.jar "$ROOT"/model/target/cascade-lm-model.jar "$ROOT"/bench/target/cascade-lm-bench.jar "$DIR/lib/"
rm -f "$DIR"/lib/*-tests.jar "$DIR"/lib/*-sources.jar
for a in com/fasterxml/jackson/core/jackson-databind/2.21.2 com/fasterxml/jackson/core/jackson-core/2.21.2 \
         com/fasterxml/jackson/core/jackson-annotations/2.21 info/picocli/picocli/4.7.7; do
    cp "$M2/$a"/*.jar "$DIR/lib/"
done
rm -f "$DIR"/lib/*-sources.jar
(cd "$ROOT/gpu-kernels/target/test-classes" && jar cf "$DIR/tests/gpu-kernels-tests.jar" .)
(cd "$ROOT/model/target/test-classes" && jar cf "$DIR/tests/model-tests.jar" cascadelm/model/cuda cascadelm/model/ModelFixtures.class \
    cascadelm/model/llama/TinyModel*.class fixtures/models)
cp "$M2/org/junit/platform/junit-platform-console-standalone/1.14.1/junit-platform-console-standalone-1.14.1.jar" \
   "$DIR/junit-platform-console-standalone.jar"
cp "$ROOT/tools/device/gpu-check.sh" "$DIR/"
du -sh "$DIR"
