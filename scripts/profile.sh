#!/usr/bin/env bash
# Records a `vidkv replay` run with JFR (the JDK's default profile plus scripts/vidkv.jfc) and prints
# a summary: event counts, then vidkv's own events.
#   scripts/profile.sh [replay options, e.g. --presets vidkv-1.5/1.58 --steps 128]
# The recording is left in out/vidkv-replay.jfr (open it in JDK Mission Control for more).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/scripts/find-jdk.sh"
mkdir -p "$ROOT/out"
REC="$ROOT/out/vidkv-replay.jfr"
VIDKV_JAVA_OPTS="-XX:StartFlightRecording=filename=$REC,settings=default,settings=$ROOT/scripts/vidkv.jfc ${VIDKV_JAVA_OPTS:-}" \
  "$ROOT/scripts/vidkv" replay "$@"
echo
echo "== jfr summary (vidkv and the busiest JDK events)"
"$JAVA_HOME/bin/jfr" summary "$REC" | grep -E "io\.vidkv|Event Type|====|jdk\.(ExecutionSample|GarbageCollection|ObjectAllocationSample|ThreadPark)"
echo
echo "== vidkv events (first of each kind)"
for e in io.vidkv.NativeLibraryLoaded io.vidkv.Page io.vidkv.AttentionStep io.vidkv.BlockQuantized; do
  "$JAVA_HOME/bin/jfr" print --events "$e" "$REC" | sed -n '1,12p'
done
echo "recording: $REC"
