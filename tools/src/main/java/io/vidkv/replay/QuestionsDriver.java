package io.vidkv.replay;

import io.vidkv.CacheConfig;
import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.MemoryReport;
import io.vidkv.ModelShape;
import io.vidkv.PagePool;
import io.vidkv.ParallelRunner;
import io.vidkv.PoolReport;
import io.vidkv.Preset;
import io.vidkv.SnapshotMode;
import io.vidkv.eval.KvSource;
import io.vidkv.eval.LayerData;
import io.vidkv.kernel.DecodeAttention;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Many questions on one video ({@code vidkv replay --questions N}): the data's tokens are prefilled
 * once as the video prefix, then N question sequences are forked from it, each on its own thread,
 * each appending its own question tokens and then decoding (append one token per layer, attend all
 * query heads). Reports the memory held by the prefix and its N forks (the pool counts shared pages
 * once) against N unshared sequences, and the time to first token of a question four ways: a fork
 * of the prefilled prefix, a fresh prefill, and a snapshot of the prefix restored mapped and loaded.
 * The time to first token = getting the prefix (fork, prefill or restore) + appending the question
 * tokens + one decode step in every layer.
 *
 * <p>Question i's own K/V are data tokens too (the synthetic data have none for the question), taken
 * from a different offset per question, so the questions diverge. Before measuring, everything runs
 * once unmeasured (warm JIT, warm pool); the times are medians of {@code repeats} runs.
 */
public final class QuestionsDriver {

    /** What to run. */
    public record Options(Preset preset, int questions, int questionTokens, int decodeSteps, int warmupSteps, int repeats,
                          int threads) {
        public Options {
            if (questions < 1 || questionTokens < 1 || decodeSteps <= warmupSteps || warmupSteps < 0 || repeats < 1
                    || threads < 1) {
                throw new IllegalArgumentException("need questions, questionTokens, repeats, threads >= 1 and decodeSteps > "
                        + "warmupSteps >= 0; got " + this);
            }
        }
    }

    /**
     * What it measured. Bytes: {@code heldBytes} = pool pages in use (shared ones once) + the
     * residual-window tokens of every sequence (those a fork shares with the prefix once: the
     * prefix's window + each fork's private window tokens); {@code prefixBytes} = the prefix
     * sequence alone (pages + window) before the questions, {@code prefixWindowBytes} its window;
     * {@code ownBytes} = what the questions added: each unshared question beyond the prefix;
     * {@code unsharedBytes} = N sequences each holding what a fork reports (its shared pages and
     * window tokens as its own); {@code sharedWindowBytes} = the window tokens the forks still share
     * with the prefix when the memory is measured (counted once in held, once per fork in unshared),
     * {@code forkPrivateWindowBytes} the forks' own window tokens (their questions' and decode steps').
     * Times in milliseconds, medians.
     */
    public record Report(String preset, int layers, int prefixTokens, int questions, long heldBytes, long prefixBytes,
                         long ownBytes, long unsharedBytes, long prefixWindowBytes, long sharedWindowBytes, long forkPrivateWindowBytes, double forkMs, double prefillMs,
                         double mappedRestoreMs, double loadedRestoreMs, double saveMs, long snapshotBytes,
                         double ttftForkMs, double ttftPrefillMs, double ttftMappedMs, double ttftLoadedMs,
                         double heapBytesPerDecodeStep, int measuredSteps, int stepsThatAllocated) {

        /** held / (prefix + own tokens): the target is at most 1.1. */
        public double sharingRatio() {
            return (double) heldBytes / (prefixBytes + ownBytes);
        }
    }

    private QuestionsDriver() {
    }

    /** Appends the first {@code tokens} tokens of every layer's data to {@code cache}. */
    public static void prefill(KvCache cache, List<LayerData> layers, int tokens) {
        for (int l = 0; l < layers.size(); l++) {
            cache.append(l, layers.get(l).keys(), layers.get(l).values(), tokens, InputType.F32);
        }
    }

    public static Report run(KvSource source, Options o) throws Exception {
        ModelShape shape = source.shape();
        int n = source.tokens();
        int own = o.questionTokens() + o.decodeSteps();
        if (n <= own) {
            throw new IllegalArgumentException("the data have " + n + " tokens, not more than a question's " + own);
        }
        Path dir = Files.createTempDirectory("vidkv-questions");
        Path file = dir.resolve("prefix.vkv");
        try (Arena arena = Arena.ofShared(); ParallelRunner runner = o.threads() > 1 ? new ParallelRunner(o.threads()) : null) {
            List<LayerData> layers = new ArrayList<>();
            for (int l = 0; l < shape.layers(); l++) {
                layers.add(source.layer(l, arena));
            }
            CacheConfig config = CacheConfig.of(shape, o.preset()).withCapacity(n + own + 64);
            long perSequence = 0;
            for (int l = 0; l < shape.layers(); l++) {
                perSequence += (long) ((n + own + 64) / config.layer(l).groupSize() + 2) * shape.kvHeads();
            }
            try (PagePool pool = new PagePool(config.pageBytes(), (int) Math.min(Integer.MAX_VALUE - 8,
                    perSequence * (3L + o.questions())))) {
                Report r = null;
                for (int pass = 0; pass < 2; pass++) { // pass 0: warm-up, unmeasured
                    r = once(shape, config, pool, runner, layers, n, file, o, pass == 0 ? 1 : o.repeats());
                }
                return r;
            }
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        }
    }

    private static Report once(ModelShape shape, CacheConfig config, PagePool pool, ParallelRunner runner,
                               List<LayerData> layers, int n, Path file, Options o, int repeats) throws Exception {
        double[] prefill = new double[repeats], fork = new double[repeats], mapped = new double[repeats],
                loaded = new double[repeats], save = new double[repeats];
        double[] ttftFork = new double[repeats], ttftPrefill = new double[repeats], ttftMapped = new double[repeats],
                ttftLoaded = new double[repeats];
        try (Arena arena = Arena.ofShared()) {
            Question[] qs = questions(shape, layers, n, o, arena);
            for (int r = 0; r < repeats; r++) {
                long t0 = System.nanoTime();
                try (KvCache fresh = KvCache.create(shape, config, pool, runner)) {
                    prefill(fresh, layers, n);
                    prefill[r] = ms(t0);
                    qs[0].firstToken(fresh);
                    ttftPrefill[r] = ms(t0);
                    long s0 = System.nanoTime();
                    fresh.saveTo(file);
                    save[r] = ms(s0);
                    long f0 = System.nanoTime();
                    try (KvCache child = fresh.fork()) {
                        fork[r] = ms(f0);
                        qs[1 % qs.length].firstToken(child);
                        ttftFork[r] = ms(f0);
                    }
                }
                for (SnapshotMode mode : SnapshotMode.values()) {
                    long m0 = System.nanoTime();
                    try (KvCache restored = KvCache.openSnapshot(file, shape, config, pool, runner, mode)) {
                        (mode == SnapshotMode.MAPPED ? mapped : loaded)[r] = ms(m0);
                        qs[0].firstToken(restored);
                        (mode == SnapshotMode.MAPPED ? ttftMapped : ttftLoaded)[r] = ms(m0);
                    }
                }
            }
            // N questions forked from one prefix, each on its own thread
            try (KvCache prefix = KvCache.create(shape, config, pool, runner)) {
                prefill(prefix, layers, n);
                MemoryReport pr = prefix.memoryReport();
                long prefixBytes = pr.pageBytes() + pr.residualBytes();
                List<KvCache> forks = new ArrayList<>();
                ExecutorService exec = Executors.newFixedThreadPool(o.questions());
                try {
                    for (int i = 0; i < o.questions(); i++) {
                        forks.add(prefix.fork());
                    }
                    java.util.concurrent.CyclicBarrier done = new java.util.concurrent.CyclicBarrier(o.questions() + 1);
                    List<Future<long[]>> results = new ArrayList<>();
                    for (int i = 0; i < o.questions(); i++) {
                        KvCache c = forks.get(i);
                        Question q = qs[i % qs.length];
                        results.add(exec.submit(() -> q.answer(c, o, done)));
                    }
                    done.await(); // every question has decoded and still holds its cache: measure the memory now
                    PoolReport pool1 = pool.report();
                    long forkWindows = 0, unshared = 0, sharedWindows = 0;
                    for (KvCache c : forks) {
                        MemoryReport m = c.memoryReport();
                        forkWindows += m.privateResidualBytes(); // its shared tokens are the prefix's, counted once
                        sharedWindows += m.sharedResidualBytes();
                        unshared += m.pageBytes() + m.residualBytes();
                    }
                    // what the questions' own tokens cost: each unshared question beyond the prefix
                    long own = unshared - (long) o.questions() * prefixBytes;
                    long held = pool1.bytesInUse() + pr.residualBytes() + forkWindows;
                    done.await(); // let them close
                    long heap = 0, steps = 0, allocating = 0;
                    for (Future<long[]> f : results) {
                        long[] x = f.get();
                        heap += x[0];
                        steps += x[1];
                        allocating += x[2];
                    }
                    return new Report(o.preset().id(), shape.layers(), n, o.questions(), held, prefixBytes, own, unshared,
                            pr.residualBytes(), sharedWindows, forkWindows, median(fork), median(prefill), median(mapped),
                            median(loaded), median(save), Files.size(file), median(ttftFork), median(ttftPrefill),
                            median(ttftMapped), median(ttftLoaded), steps == 0 ? 0 : (double) heap / steps, (int) steps,
                            (int) allocating);
                } finally {
                    exec.shutdownNow();
                    for (KvCache c : forks) {
                        c.close();
                    }
                }
            }
        }
    }

    private static double ms(long t0) {
        return (System.nanoTime() - t0) / 1e6;
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static Question[] questions(ModelShape shape, List<LayerData> layers, int n, Options o, Arena arena) {
        int own = o.questionTokens() + o.decodeSteps();
        Question[] qs = new Question[Math.max(2, o.questions())];
        long tokenBytes = (long) shape.tokenElements() * Float.BYTES;
        for (int i = 0; i < qs.length; i++) {
            int from = (int) ((long) i * 7919 % (n - own)); // a different stretch of the data per question
            qs[i] = new Question(shape, layers, from, o.questionTokens(), o.decodeSteps(), tokenBytes, arena);
        }
        return qs;
    }

    /** One question's own tokens (all slices made up front, so decoding allocates nothing). */
    private static final class Question {
        private final ModelShape shape;
        private final MemorySegment[] questionK, questionV;
        private final MemorySegment[][] k, v, q;
        private final MemorySegment out;
        private final int questionTokens;

        Question(ModelShape shape, List<LayerData> layers, int from, int questionTokens, int steps, long tokenBytes, Arena arena) {
            this.shape = shape;
            this.questionTokens = questionTokens;
            int L = shape.layers();
            long queryBytes = (long) shape.queryHeads() * shape.headDim() * Float.BYTES;
            questionK = new MemorySegment[L];
            questionV = new MemorySegment[L];
            k = new MemorySegment[L][steps];
            v = new MemorySegment[L][steps];
            q = new MemorySegment[L][steps];
            for (int l = 0; l < L; l++) {
                LayerData d = layers.get(l);
                questionK[l] = d.keys().asSlice(from * tokenBytes, questionTokens * tokenBytes);
                questionV[l] = d.values().asSlice(from * tokenBytes, questionTokens * tokenBytes);
                for (int s = 0; s < steps; s++) {
                    k[l][s] = d.keys().asSlice((from + questionTokens + s) * tokenBytes, tokenBytes);
                    v[l][s] = d.values().asSlice((from + questionTokens + s) * tokenBytes, tokenBytes);
                    q[l][s] = d.queries().asSlice((s % d.queryTokens()) * queryBytes, queryBytes);
                }
            }
            out = arena.allocate(queryBytes, 64);
        }

        /** The question's tokens, then one decode step in every layer: the first token's work. */
        void firstToken(KvCache cache) {
            try (DecodeAttention attn = new DecodeAttention(cache, null)) {
                for (int l = 0; l < shape.layers(); l++) {
                    cache.append(l, questionK[l], questionV[l], questionTokens, InputType.F32);
                }
                for (int l = 0; l < shape.layers(); l++) {
                    cache.append(l, k[l][0], v[l][0], 1, InputType.F32);
                    attn.attend(l, q[l][0], out);
                }
            }
        }

        /**
         * The question on its own thread: its tokens, then every decode step; waits at {@code done}
         * (memory is measured), then again before it returns. Returns {heap bytes, steps measured,
         * steps that allocated}.
         */
        long[] answer(KvCache cache, Options o, java.util.concurrent.CyclicBarrier done) throws Exception {
            com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            long heap = 0, allocating = 0;
            try (DecodeAttention attn = new DecodeAttention(cache, null)) {
                for (int l = 0; l < shape.layers(); l++) {
                    cache.append(l, questionK[l], questionV[l], questionTokens, InputType.F32);
                }
                for (int s = 0; s < o.decodeSteps(); s++) {
                    long before = mx.getCurrentThreadAllocatedBytes();
                    for (int l = 0; l < shape.layers(); l++) {
                        cache.append(l, k[l][s], v[l][s], 1, InputType.F32);
                        attn.attend(l, q[l][s], out);
                    }
                    long allocated = mx.getCurrentThreadAllocatedBytes() - before;
                    if (s >= o.warmupSteps()) {
                        heap += allocated;
                        allocating += allocated > 0 ? 1 : 0;
                    }
                }
            } finally {
                done.await();
                done.await();
            }
            return new long[]{heap, o.decodeSteps() - o.warmupSteps(), allocating};
        }
    }
}
