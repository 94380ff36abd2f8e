#!/usr/bin/env bash
# Runs the Jazzer fuzz tests in fuzzing mode (JAZZER_FUZZ=1), one test method per JVM (Jazzer
# fuzzes one test per run), each for DURATION, and prints executions and exec/s per test.
#
#   scripts/fuzz.sh [DURATION] [FILTER]
#     DURATION  Jazzer duration per test: 30s, 5m, 1h (default 60s; jazzer.max_duration overrides
#               the @FuzzTest(maxDuration) defaults)
#     FILTER    substring of "Class#method" selecting the tests (default: all), e.g. KvCache or Npy
#
# Plain ./mvnw verify runs the same tests in regression mode (seed corpus only). New corpus entries
# go to .cifuzz-corpus/ (ignored by git); a finding is written by Jazzer as crash-<sha1> into the
# test's corpus directory (src/test/resources or tools/src/test/resources)/<package>/<Class>Inputs/<method>/: fix the bug and
# commit that file so every build replays it. Logs: target/fuzz/<Class>#<method>.log.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/scripts/find-jdk.sh"
cd "$ROOT"
DURATION="${1:-60s}"
FILTER="${2:-}"

# Every @FuzzTest method: Class#method (the method name is on the line after the annotation)
mapfile -t TESTS < <(grep -rl --include='*.java' '@FuzzTest' src/test/java tools/src/test/java | sort | while read -r f; do
  cls=$(basename "$f" .java)
  awk -v cls="$cls" '/@FuzzTest/ {want=1; next} want && /void [A-Za-z0-9_]+\(/ {
      match($0, /void [A-Za-z0-9_]+\(/); print cls "#" substr($0, RSTART + 5, RLENGTH - 6); want=0 }' "$f"
done | grep -F -- "$FILTER")
if [[ ${#TESTS[@]} -eq 0 ]]; then
  echo "no fuzz test matches '$FILTER'" >&2
  exit 2
fi
echo "fuzzing ${#TESTS[@]} test(s) for $DURATION each: ${TESTS[*]}"
./mvnw -B -q --no-transfer-progress test-compile || exit 1
mkdir -p target/fuzz
SUMMARY=()
FAILED=0
for t in "${TESTS[@]}"; do
  log="target/fuzz/$t.log"
  echo "== $t ($DURATION) -> $log"
  JAZZER_FUZZ=1 ./mvnw -B --no-transfer-progress surefire:test -Dtest="$t" -Djazzer.max_duration="$DURATION" \
      -Dsurefire.failIfNoSpecifiedTests=false >"$log" 2>&1
  rc=$?
  # libFuzzer's closing line: "Done 123456 runs in 60 second(s)"
  done_line=$(grep -aE '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1)
  runs=$(sed -E 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1/' <<<"$done_line")
  secs=$(sed -E 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\2/' <<<"$done_line")
  if [[ -z "$done_line" ]]; then  # stopped by a finding: take the last status line instead
    last=$(grep -aE '^#[0-9]+ ' "$log" | tail -1)
    runs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$last")
    secs="?"
  fi
  cov=$(grep -aoE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
  if [[ $rc -eq 0 ]]; then
    result="no finding"
  else
    FAILED=1
    crash=$(grep -aoE "[^ ]*Inputs/[^ ]*crash-[0-9a-f]+" "$log" | tail -1)
    result="FINDING (${crash:-see $log}): $(grep -aE 'FuzzTestFindingException|Caused by' "$log" | head -1 | cut -c1-200)"
  fi
  rate="?"
  if [[ -n "${runs:-}" && "$secs" =~ ^[0-9]+$ && "$secs" -gt 0 ]]; then rate=$((runs / secs)); fi
  line="$t: ${runs:-?} executions in ${secs}s, ${rate} exec/s, ${cov:-no coverage line}; $result"
  echo "   $line"
  SUMMARY+=("$line")
done
echo
echo "== summary"
printf '%s\n' "${SUMMARY[@]}"
exit $FAILED
