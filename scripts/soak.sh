#!/usr/bin/env bash
# Soak run: streams 1,000,000 tokens through one evicting sequence in decode steps, then 2,000 short
# sequences through a shared pool, sampling the pool, Native Memory Tracking and the heap; exits 1
# unless memory is flat after warm-up. `scripts/soak.sh --short` is the shortened run CI does.
# Other options go to `vidkv soak` (see scripts/vidkv soak --help), e.g. --tokens, --out.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export VIDKV_JAVA_OPTS="${VIDKV_JAVA_OPTS:-} -XX:NativeMemoryTracking=summary -Xmx1g"
args=("$@")
if [[ ! " ${args[*]} " =~ " --out" ]]; then
  args+=(--out "$ROOT/tools/target/soak")
fi
exec "$ROOT/scripts/vidkv" soak "${args[@]}"
