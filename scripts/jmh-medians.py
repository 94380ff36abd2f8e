#!/usr/bin/env python3
# Prints a markdown row per JMH result (JSON from bench.sh): median, min, max over all iterations of all forks.
# Usage: scripts/jmh-medians.py jmh/target/results-full.json
import json,sys,statistics
for r in json.load(open(sys.argv[1])):
    raw=[x for fork in r['primaryMetric']['rawData'] for x in fork]
    params=",".join(f"{k}={v}" for k,v in (r.get('params') or {}).items())
    print(f"| {r['benchmark'].split('.')[-2]}.{r['benchmark'].split('.')[-1]} | {params} | {statistics.median(raw):.1f} | {min(raw):.1f} | {max(raw):.1f} | {r['primaryMetric']['scoreUnit']} | {len(raw)} |")
