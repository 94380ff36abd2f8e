#!/usr/bin/env python3
# Prints the kernel issue's ratios from one `scripts/bench.sh ratios` run (all rows from the same run):
#   scripts/bench-ratios.py jmh/target/results-ratios.json jmh/target/results-ratios.log
# Medians over every measured iteration. The float32 bound of a decode step is its FLOPs
# (2 matrix products x 2 FLOP x 28 query heads x context x d = 128) at the GFLOP/s oneDNN's f32 matmul
# reached in the same run (MatmulBenchmark.prefillScores, 256 x 128 x 6272).
import json, re, statistics, sys

results = json.load(open(sys.argv[1]))
log = open(sys.argv[2]).read() if len(sys.argv) > 2 else ""

def med(r):
    return statistics.median(x for fork in r['primaryMetric']['rawData'] for x in fork)

decode, matmul, prefill = {}, None, {}
for r in results:
    name, p = r['benchmark'].split('.')[-1], r.get('params') or {}
    unit = r['primaryMetric']['scoreUnit']
    scale = {'us/op': 1e-3, 'ms/op': 1.0}[unit]  # to ms
    if name == 'decodeStep':
        decode[(p['preset'], int(p['context']), int(p['threads']))] = med(r) * scale
    elif name == 'prefillScores' and p.get('context') == '6272':
        matmul = med(r) * scale
    elif name == 'prefillChunk':
        prefill[(p['preset'], int(p['context']), int(p.get('threads', 1)))] = med(r) * scale

def row(label, value, target, ok):
    print(f"| {label} | {value} | {target} | {'met' if ok else 'MISSED'} |")

print("| ratio | measured | target | |")
print("|---|---|---|---|")
gflops = None
if matmul:
    gflops = 2 * 256 * 128 * 6272 / (matmul * 1e-3) / 1e9
    print(f"| oneDNN f32 matmul 256x128x6272 | {matmul:.2f} ms = {gflops:.1f} GFLOP/s | | |")
for ctx, target in ((4096, 1.3), (16384, 1.6)):
    v, f = decode.get(('vidkv-1.5/1.58', ctx, 2)), decode.get(('fp16', ctx, 2))
    if v and f:
        row(f"fp16 / vidkv-1.5/1.58 decode, {ctx} tokens, 2 threads ({f:.2f} / {v:.2f} ms)", f"{f / v:.2f}x", f">= {target}x", f / v >= target)
if gflops:
    bound = 2 * 2 * 28 * 16384 * 128 / (gflops * 1e9) * 1e3
    for preset, target in (('vidkv-1.5/1.58', 1.0), ('fp16', 1.3)):
        t = decode.get((preset, 16384, 2))
        if t:
            row(f"{preset} 16K step / float32 bound ({t:.2f} / {bound:.2f} ms)", f"{t / bound:.2f}x", f"<= {target}x", t / bound <= target)
for ctx in (4096, 16384):
    base = decode.get(('vidkv-1.5/1.58', ctx, 2))
    for preset in ('kivi-2', 'vidkv-1.5/1.58-compact', 'vidkv-1.5/1.66-stp'):
        t = decode.get((preset, ctx, 2))
        if base and t:
            row(f"{preset} / vidkv-1.5/1.58 decode, {ctx} tokens ({t:.2f} / {base:.2f} ms)", f"{t / base:.2f}x", "<= 1.25x", t / base <= 1.25)
shares = {}  # (threads, OMP_WAIT_POLICY) -> the share lines of its forks
for m in re.finditer(r"\[vidkv-1\.5/1\.58 threads=(\d+) OMP_WAIT_POLICY=(\w+)\] share of time: dequantize ([\d.]+) %, "
                     r"oneDNN matmul ([\d.]+) %, softmax ([\d.]+) %", log):
    shares.setdefault((int(m.group(1)), m.group(2)), []).append([float(m.group(i)) for i in (3, 4, 5)])
for (threads, policy), forks in sorted(shares.items()):
    t = prefill.get(('vidkv-1.5/1.58', 6272, threads))
    if t:
        deq, mm, soft = (statistics.median(f[i] for f in forks) for i in range(3))
        share = mm / 100
        row(f"prefill 256 x 6,272, {threads} thread(s), OMP_WAIT_POLICY={policy} / its oneDNN matmul time ({t:.2f} ms, "
            f"matmul {mm:.0f} %, dequantize {deq:.0f} %, softmax {soft:.0f} %; median of {len(forks)} forks)",
            f"{1 / share:.2f}x", "<= 1.25x", 1 / share <= 1.25)
