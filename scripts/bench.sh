#!/usr/bin/env bash
# Builds the library and the JMH benchmarks, then runs them.
#
#   scripts/bench.sh quick|full [extra JMH args...]
#
#   quick  1 fork,  2 x 1 s warmup,  3 x 1 s measurement   (a smoke run: minutes)
#   full   2 forks, 5 x 2 s warmup, 10 x 2 s measurement   (numbers worth comparing)
#
# Extra arguments go to JMH unchanged, e.g. a benchmark regex, -p batch=4096, -prof gc:
#   scripts/bench.sh quick FftBenchmark
#   scripts/bench.sh full 'MatmulBenchmark.prefill' -p context=6272
# Results (JSON) land in jmh/target/results-<profile>.json.
set -euo pipefail

usage() {
  echo "usage: $0 quick|full [extra JMH args...]" >&2
  exit 2
}

[[ $# -ge 1 ]] || usage
profile=$1
shift
case "$profile" in
  quick) opts=(-f 1 -wi 2 -w 1s -i 3 -r 1s) ;;
  full)  opts=(-f 2 -wi 5 -w 2s -i 10 -r 2s) ;;
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
echo "== running JMH ($profile): ${opts[*]} $*" >&2
"$JAVA_HOME/bin/java" -jar "$root/jmh/target/benchmarks.jar" "${opts[@]}" -rf json -rff "$results" "$@"
echo "== JMH results ($profile) written to $results" >&2
if command -v python3 >/dev/null; then
  echo "| benchmark | params | median | min | max | unit | samples |"
  echo "|---|---|---|---|---|---|---|"
  python3 "$root/scripts/jmh-medians.py" "$results"
fi
