#!/usr/bin/env bash
# Builds the library and the JMH benchmarks, then runs them.
#
#   scripts/bench.sh quick|full [extra JMH args...]
#   scripts/bench.sh ratios
#
#   quick  1 fork,  2 x 1 s warmup,  3 x 1 s measurement   (a smoke run: minutes)
#   full   2 forks, 5 x 2 s warmup, 10 x 2 s measurement   (numbers worth comparing)
#   ratios the decode, matmul and prefill rows the kernel targets are ratios of, in one run
#          (2 forks, 3 x 1 s warmup, 6 x 1 s measurement; about 8 minutes), then prints the ratios
#
# Extra arguments go to JMH unchanged, e.g. a benchmark regex, -p batch=4096, -prof gc:
#   scripts/bench.sh quick FftBenchmark
#   scripts/bench.sh full 'MatmulBenchmark.prefill' -p context=6272
# Results (JSON) land in jmh/target/results-<profile>.json.
set -euo pipefail

usage() {
  echo "usage: $0 quick|full [extra JMH args...] | $0 ratios" >&2
  exit 2
}

[[ $# -ge 1 ]] || usage
profile=$1
shift
case "$profile" in
  quick) opts=(-f 1 -wi 2 -w 1s -i 3 -r 1s) ;;
  full)  opts=(-f 2 -wi 5 -w 2s -i 10 -r 2s) ;;
  ratios) opts=(-f 2 -wi 3 -w 1s -i 6 -r 1s) ;;
  -h|--help) usage ;;
  *) echo "unknown profile '$profile'" >&2; usage ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/find-jdk.sh
source "$root/scripts/find-jdk.sh"   # exports JAVA_HOME (JDK >= 25) and puts it first on PATH

echo "== JDK: $JAVA_HOME" >&2
echo "== building vidkv (./mvnw -q -DskipTests install)" >&2
./mvnw -q -DskipTests install
echo "== building benchmarks (./mvnw -q -f jmh/pom.xml package)" >&2
./mvnw -q -f jmh/pom.xml package

results="$root/jmh/target/results-$profile.json"
log="$root/jmh/target/results-$profile.log"
jmh() { "$JAVA_HOME/bin/java" -jar "$root/jmh/target/benchmarks.jar" "${opts[@]}" "$@"; }
echo "== running JMH ($profile): ${opts[*]} $*" >&2
if [[ $profile == ratios ]]; then
  # three parameter sets in one sitting (JMH applies a -p to every benchmark that has the field)
  jmh 'DecodeAttentionBenchmark' -p preset=vidkv-1.5/1.58,fp16,kivi-2,vidkv-1.5/1.58-compact,vidkv-1.5/1.66-stp \
      -p context=4096,16384 -p threads=2 -rf json -rff "$results.decode" | tee "$log"
  jmh 'MatmulBenchmark.prefillScores' -p context=6272 -rf json -rff "$results.matmul" | tee -a "$log"
  jmh 'PrefillAttentionBenchmark' -p preset=vidkv-1.5/1.58 -p context=6272 -p queries=256 \
      -rf json -rff "$results.prefill" | tee -a "$log"
  python3 -c 'import json,sys; print(json.dumps(sum((json.load(open(f)) for f in sys.argv[1:]), [])))' \
      "$results.decode" "$results.matmul" "$results.prefill" > "$results"
else
  jmh -rf json -rff "$results" "$@" | tee "$log"
fi
echo "== JMH results ($profile) written to $results" >&2
if command -v python3 >/dev/null; then
  echo "| benchmark | params | median | min | max | unit | samples |"
  echo "|---|---|---|---|---|---|---|"
  python3 "$root/scripts/jmh-medians.py" "$results"
  if [[ $profile == ratios ]]; then
    echo
    python3 "$root/scripts/bench-ratios.py" "$results" "$log"
  fi
fi
