package io.vidkv.replay;

import io.vidkv.CacheConfig;
import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.ModelShape;
import io.vidkv.PagePool;
import io.vidkv.ParallelRunner;
import io.vidkv.Preset;
import io.vidkv.eval.KvSource;
import io.vidkv.eval.LayerData;
import io.vidkv.kernel.DecodeAttention;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Drives caches exactly as an inference engine would, without model weights: for every layer a
 * prefill with the data's K/V (all but the last {@code decodeSteps} tokens), then decode steps that
 * each append one token per layer (the next token of the data) and run attention for all query heads
 * with that step's queries (the data's queries, in turn). Several sequences can run concurrently on
 * a shared {@link PagePool}, each on its own thread (as a server runs one request per thread); with
 * one sequence, its attention and prefill use {@code threads} threads.
 *
 * <p>Before the measured run, the same work runs once unmeasured, as in a long-running server: the
 * JIT has compiled the paths and the pool holds free pages. Reports per-step latency (p50/p99 over the steps after warm-up), prefill time, decode tokens per
 * second, native memory held, heap bytes allocated per decode step by the sequence threads, and the
 * number of GCs during the decode phase.
 */
public final class ReplayDriver {

    /** What to run. */
    public record Options(Preset preset, int decodeSteps, int warmupSteps, int sequences, int threads) {
        public Options {
            if (decodeSteps <= warmupSteps || warmupSteps < 0 || sequences < 1 || threads < 1) {
                throw new IllegalArgumentException("need decodeSteps > warmupSteps >= 0, sequences >= 1, threads >= 1; got "
                        + decodeSteps + ", " + warmupSteps + ", " + sequences + ", " + threads);
            }
        }
    }

    /** What it measured. */
    public record Report(String preset, int sequences, int layers, int contextTokens, double prefillMs, double stepP50Ms,
                         double stepP99Ms, double decodeTokensPerSecond, long nativeBytes, double heapBytesPerStep,
                         int stepsThatAllocated, int measuredSteps, long gcCountDuringDecode) {
    }

    private ReplayDriver() {
    }

    public static Report run(KvSource source, Options o) throws Exception {
        ModelShape shape = source.shape();
        int n = source.tokens();
        if (n <= o.decodeSteps()) {
            throw new IllegalArgumentException("the data have " + n + " tokens, fewer than " + o.decodeSteps() + " decode steps");
        }
        int prefill = n - o.decodeSteps();
        try (Arena arena = Arena.ofShared()) {
            List<LayerData> layers = new ArrayList<>();
            for (int l = 0; l < shape.layers(); l++) {
                layers.add(source.layer(l, arena));
            }
            CacheConfig config = CacheConfig.of(shape, o.preset()).withCapacity(n + 64);
            long blocks = 0;
            for (int l = 0; l < shape.layers(); l++) {
                blocks += (long) (n / config.layer(l).groupSize() + 2) * shape.kvHeads();
            }
            try (PagePool pool = new PagePool(config.pageBytes(), (int) Math.min(Integer.MAX_VALUE - 8, blocks * o.sequences()))) {
                // A server's pool and JIT are warm: one unmeasured pass of the same work first, whose
                // pages return to the pool and whose code paths get compiled.
                warmUp(shape, config, pool, layers, prefill, o);
                ExecutorService exec = Executors.newFixedThreadPool(o.sequences()); // one thread per sequence (they meet at barriers)
                long gcBefore;
                List<Future<long[]>> futures = new ArrayList<>();
                long[] prefillNs = new long[o.sequences()];
                long[] nativeBytes = new long[o.sequences()];
                java.util.concurrent.CyclicBarrier decodeStart = new java.util.concurrent.CyclicBarrier(o.sequences() + 1);
                java.util.concurrent.CyclicBarrier decodeEnd = new java.util.concurrent.CyclicBarrier(o.sequences() + 1);
                System.gc(); // start the decode phase with an empty young generation (prefill leaves garbage)
                try {
                    for (int s = 0; s < o.sequences(); s++) {
                        int seq = s;
                        futures.add(exec.submit(() -> sequence(shape, config, pool, layers, prefill, o, seq, prefillNs, nativeBytes,
                                decodeStart, decodeEnd)));
                    }
                    decodeStart.await();
                    gcBefore = gcCount();
                    decodeEnd.await();
                    long gcAfter = gcCount();
                    List<Long> steps = new ArrayList<>();
                    long heap = 0;
                    int allocating = 0;
                    for (Future<long[]> f : futures) {
                        long[] r = f.get();
                        heap += r[0];
                        allocating += (int) r[1];
                        for (int i = 2; i < r.length; i++) {
                            steps.add(r[i]);
                        }
                    }
                    long[] sorted = steps.stream().mapToLong(Long::longValue).sorted().toArray();
                    double p50 = sorted[sorted.length / 2] / 1e6, p99 = sorted[Math.min(sorted.length - 1, (int) (sorted.length * 0.99))] / 1e6;
                    double meanStepNs = Arrays.stream(sorted).average().orElse(0);
                    int measured = o.decodeSteps() - o.warmupSteps();
                    return new Report(o.preset().id(), o.sequences(), shape.layers(), n, Arrays.stream(prefillNs).average().orElse(0) / 1e6,
                            p50, p99, o.sequences() * 1e9 / meanStepNs, Arrays.stream(nativeBytes).sum(),
                            (double) heap / ((long) measured * o.sequences()), allocating, measured * o.sequences(), gcAfter - gcBefore);
                } finally {
                    exec.shutdownNow();
                }
            }
        }
    }

    private static void warmUp(ModelShape shape, CacheConfig config, PagePool pool, List<LayerData> layers, int prefill, Options o)
            throws Exception {
        java.util.concurrent.CyclicBarrier a = new java.util.concurrent.CyclicBarrier(o.sequences());
        java.util.concurrent.CyclicBarrier b = new java.util.concurrent.CyclicBarrier(o.sequences());
        ExecutorService exec = Executors.newFixedThreadPool(o.sequences()); // one thread per sequence (they meet at barriers)
        try {
            List<Future<long[]>> fs = new ArrayList<>();
            for (int s = 0; s < o.sequences(); s++) {
                int seq = s;
                fs.add(exec.submit(() -> sequence(shape, config, pool, layers, prefill, o, seq, new long[o.sequences()],
                        new long[o.sequences()], a, b)));
            }
            for (Future<long[]> f : fs) {
                f.get();
            }
        } finally {
            exec.shutdownNow();
        }
    }

    /** One sequence; returns [heap bytes during measured steps, steps that allocated, step nanos...]. */
    private static long[] sequence(ModelShape shape, CacheConfig config, PagePool pool, List<LayerData> layers, int prefill,
                                   Options o, int seq, long[] prefillNs, long[] nativeBytes,
                                   java.util.concurrent.CyclicBarrier decodeStart, java.util.concurrent.CyclicBarrier decodeEnd)
            throws Exception {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        ParallelRunner runner = o.sequences() == 1 && o.threads() > 1 ? new ParallelRunner(o.threads()) : null;
        try (KvCache cache = KvCache.create(shape, config, pool, runner);
             DecodeAttention attn = new DecodeAttention(cache, runner);
             Arena arena = Arena.ofConfined()) {
            long t0 = System.nanoTime();
            for (int l = 0; l < shape.layers(); l++) {
                LayerData d = layers.get(l);
                cache.append(l, d.keys(), d.values(), prefill, InputType.F32);
            }
            prefillNs[seq] = System.nanoTime() - t0;
            long tokenBytes = (long) shape.tokenElements() * 4;
            long queryBytes = (long) shape.queryHeads() * shape.headDim() * 4;
            int steps = o.decodeSteps();
            // All slices are made before the decode phase, so the loop itself allocates nothing.
            MemorySegment[][] k = new MemorySegment[shape.layers()][steps];
            MemorySegment[][] v = new MemorySegment[shape.layers()][steps];
            MemorySegment[][] q = new MemorySegment[shape.layers()][steps];
            for (int l = 0; l < shape.layers(); l++) {
                LayerData d = layers.get(l);
                for (int s = 0; s < steps; s++) {
                    k[l][s] = d.keys().asSlice((prefill + s) * tokenBytes, tokenBytes);
                    v[l][s] = d.values().asSlice((prefill + s) * tokenBytes, tokenBytes);
                    q[l][s] = d.queries().asSlice((s % d.queryTokens()) * queryBytes, queryBytes);
                }
            }
            MemorySegment out = arena.allocate(queryBytes, 64);
            long[] result = new long[2 + steps - o.warmupSteps()];
            decodeStart.await();
            long heapTotal = 0, allocatingSteps = 0;
            for (int s = 0; s < steps; s++) {
                long heapBefore = mx.getCurrentThreadAllocatedBytes();
                long st = System.nanoTime();
                for (int l = 0; l < shape.layers(); l++) {
                    cache.append(l, k[l][s], v[l][s], 1, InputType.F32);
                    attn.attend(l, q[l][s], out);
                }
                long dt = System.nanoTime() - st;
                long allocated = mx.getCurrentThreadAllocatedBytes() - heapBefore;
                if (s >= o.warmupSteps()) {
                    result[2 + s - o.warmupSteps()] = dt;
                    heapTotal += allocated;
                    allocatingSteps += allocated > 0 ? 1 : 0;
                }
            }
            result[0] = heapTotal;
            result[1] = allocatingSteps;
            nativeBytes[seq] = cache.memoryReport().pageBytes() + cache.memoryReport().residualBytes();
            decodeEnd.await();
            return result;
        } finally {
            if (runner != null) {
                runner.close();
            }
        }
    }

    /** Stop-the-world collections so far (G1's concurrent-cycle bean is not a pause and is left out). */
    private static long gcCount() {
        long c = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (!gc.getName().contains("Concurrent")) {
                c += Math.max(0, gc.getCollectionCount());
            }
        }
        return c;
    }
}
