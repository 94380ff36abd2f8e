package io.vidkv.replay;

import io.vidkv.CacheConfig;
import io.vidkv.CapacityPolicy;
import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.ModelShape;
import io.vidkv.PagePool;
import io.vidkv.ParallelRunner;
import io.vidkv.Preset;
import io.vidkv.kernel.DecodeAttention;

import javax.management.ObjectName;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Long runs that must leave memory flat. Three phases:
 * <ol>
 *   <li><b>stream</b>: one sequence under {@link CapacityPolicy#evictOldest} takes {@code streamTokens}
 *   decode steps (append one token to every layer, attend with every query head), far past its
 *   capacity, so it keeps evicting its oldest pages;</li>
 *   <li><b>sequences</b>: many short sequences (random prefill length, a few decode steps) go through
 *   one shared pool, up to {@code openSequences} alive at once, closed in random order;</li>
 *   <li><b>forks</b> ({@link SoakForkPhase}): evicting sequences fork, append, evict and close in random
 *   order on one pool, {@code forkOps} operations; references are checked against the pages held.</li>
 * </ol>
 * Every {@code sampleEvery} steps (or sequences) it samples the pool's accounting, Native Memory
 * Tracking (when the JVM runs with {@code -XX:NativeMemoryTracking=summary}; FFM arenas count under
 * NMT's "Other"), the heap in use and the heap bytes the driver thread allocated. After the warm-up
 * samples the run is flat when the pool allocated no new page in the stream phase, native memory
 * outside the pool (NMT Other minus the pool's pages and window chunks) moved by at most {@link #NATIVE_TOLERANCE_BYTES},
 * the steady-state steps allocated less than one heap byte per step on average (one object per
 * step would be 16 bytes or more; a late JIT event that allocates once is not a per-step cost), and
 * every page is back in the pool at the end.
 *
 * <p>The K/V fed in cycle through a buffer of random tokens with a few outlier key channels: the soak
 * is about memory and stability, fidelity is measured by {@code vidkv eval}.
 */
public final class SoakDriver {

    /** Allowed movement of native memory outside the pool after warm-up (allocator noise). */
    public static final long NATIVE_TOLERANCE_BYTES = 1L << 20;

    public record Options(Preset preset, ModelShape shape, int capacity, long streamTokens, int sequences,
                          int maxSequenceTokens, int openSequences, int sampleEvery, int sequenceSampleEvery,
                          int threads, long seed, int forkOps) {
        public Options {
            if (streamTokens < 0 || sequences < 0 || forkOps < 0 || capacity <= 0 || sampleEvery <= 0 || sequenceSampleEvery <= 0
                    || maxSequenceTokens < 64 || openSequences <= 0 || threads <= 0) {
                throw new IllegalArgumentException("soak options out of range: " + this);
            }
        }

        /** The full soak of the reliability issue: 1,000,000 streamed tokens and 2,000 short sequences. */
        public static Options full() {
            return new Options(Preset.VIDKV_15_158, new ModelShape(2, 8, 4, 128), 2048, 1_000_000, 2000, 2048, 8, 20_000, 100,
                    Runtime.getRuntime().availableProcessors(), 1, 20_000);
        }

        /** The shortened run for CI: the same checks on 24,000 tokens and 240 sequences. */
        public static Options ci() {
            return new Options(Preset.VIDKV_15_158, new ModelShape(2, 8, 4, 128), 2048, 24_000, 240, 2048, 8, 1_000, 20,
                    Runtime.getRuntime().availableProcessors(), 1, 2_000);
        }
    }

    /** One sample; NMT fields are -1 when native memory tracking is off. */
    public record Sample(String phase, long step, long elapsedMillis, int retainedTokens, int poolPagesInUse,
                         int poolAllocatedPages, long poolNativeBytes, long poolWindowBytes, long nmtTotalCommitted,
                         long nmtOtherCommitted, long heapUsed, long heapAllocatedByDriver) {
        /**
         * Native memory NMT attributes to "Other" minus what the pool holds (its pages and residual-window
         * chunks, bounded by their own checks): per-sequence arenas, scratch.
         */
        public long nativeOutsidePool() {
            return nmtOtherCommitted < 0 ? -1 : nmtOtherCommitted - poolNativeBytes - poolWindowBytes;
        }
    }

    public record Check(String name, boolean passed, String detail) {
    }

    public record Report(Options options, boolean nmtEnabled, List<Sample> samples, List<Check> checks,
                         long streamHeapBytesPerStep, double streamStepMicros) {
        public boolean flat() {
            return checks.stream().allMatch(Check::passed);
        }
    }

    private SoakDriver() {
    }

    /** Runs both phases; {@code progress} gets the steps done so far (stream tokens, then sequences). */
    public static Report run(Options o, LongConsumer progress) {
        List<Sample> samples = new ArrayList<>();
        List<Check> checks = new ArrayList<>();
        ModelShape shape = o.shape();
        SplittableRandom rnd = new SplittableRandom(o.seed());
        int buffer = 4096;
        long streamAllocated = 0, streamSteps = 0, streamNanos = 0;
        try (Arena data = Arena.ofShared(); ParallelRunner runner = new ParallelRunner(o.threads())) {
            MemorySegment keys = tokens(data, rnd, buffer, shape, true);
            MemorySegment values = tokens(data, rnd, buffer, shape, false);
            long tokenBytes = (long) shape.tokenElements() * Float.BYTES;
            MemorySegment[] kt = new MemorySegment[buffer];
            MemorySegment[] vt = new MemorySegment[buffer];
            for (int t = 0; t < buffer; t++) {
                kt[t] = keys.asSlice(t * tokenBytes, tokenBytes);
                vt[t] = values.asSlice(t * tokenBytes, tokenBytes);
            }
            MemorySegment q = data.allocate((long) shape.queryHeads() * shape.headDim() * Float.BYTES, 64);
            MemorySegment out = data.allocate(q.byteSize(), 64);
            for (long i = 0; i < q.byteSize() / 4; i++) {
                q.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (0.3 * rnd.nextGaussian()));
            }
            com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            long started = System.nanoTime();

            // Phase 1: one sequence streams far past its capacity.
            CacheConfig streamConfig = CacheConfig.of(shape, o.preset()).withCapacity(CapacityPolicy.evictOldest(o.capacity()));
            int streamFirstSample = -1;
            if (o.streamTokens() > 0) {
                try (KvCache cache = KvCache.create(shape, streamConfig, runner);
                     DecodeAttention attn = new DecodeAttention(cache, runner)) {
                    PagePool pool = cache.pagePool();
                    long allocatedSince = mx.getCurrentThreadAllocatedBytes();
                    long intervalStart = System.nanoTime();
                    for (long step = 0; step < o.streamTokens(); step++) {
                        int t = (int) (step % buffer);
                        for (int l = 0; l < shape.layers(); l++) {
                            cache.append(l, kt[t], vt[t], 1, InputType.F32);
                            attn.attend(l, q, out);
                        }
                        if ((step + 1) % o.sampleEvery() == 0 || step + 1 == o.streamTokens()) {
                            long stepsNow = (step + 1) % o.sampleEvery() == 0 ? o.sampleEvery() : (step + 1) % o.sampleEvery();
                            long allocated = mx.getCurrentThreadAllocatedBytes() - allocatedSince;
                            long nanos = System.nanoTime() - intervalStart;
                            boolean warm = step + 1 > warmupSteps(o);
                            if (warm) {
                                streamAllocated += allocated;
                                streamSteps += stepsNow;
                                streamNanos += nanos;
                                if (streamFirstSample < 0) {
                                    streamFirstSample = samples.size();
                                }
                            }
                            samples.add(sample("stream", step + 1, started, cache.retainedTokenCount(0), pool, allocated));
                            progress.accept(step + 1);
                            allocatedSince = mx.getCurrentThreadAllocatedBytes();
                            intervalStart = System.nanoTime();
                        }
                    }
                }
                List<Sample> warmStream = streamFirstSample < 0 ? List.of() : samples.subList(streamFirstSample, samples.size());
                checks.add(flatPool(warmStream));
                checks.add(flatNative("stream", warmStream));
                // One object per step would be >= 16 B/step; a late JIT event allocating once is not a per-step cost.
                long allocatingIntervals = warmStream.stream().filter(s -> s.heapAllocatedByDriver() > 0).count();
                checks.add(new Check("stream: no heap allocation per steady-state decode step (< 1 B/step)",
                        streamSteps > 0 && streamAllocated < streamSteps, streamAllocated + " bytes over " + streamSteps
                        + " steps after warm-up; " + allocatingIntervals + " of " + warmStream.size() + " sample intervals allocated"));
                checks.add(new Check("stream: retained tokens within capacity",
                        warmStream.stream().allMatch(s -> s.retainedTokens() <= o.capacity()), "capacity " + o.capacity()));
            }

            // Phase 2: many short sequences through one shared pool.
            if (o.sequences() > 0) {
                CacheConfig config = CacheConfig.of(shape, o.preset()).withCapacity(o.maxSequenceTokens() + 64);
                long perSequence = 0;
                for (int l = 0; l < shape.layers(); l++) {
                    perSequence += (long) ((o.maxSequenceTokens() + 64) / config.layer(l).groupSize() + 2) * shape.kvHeads();
                }
                int seqFirstSample = -1;
                try (PagePool pool = new PagePool(config.pageBytes(), (int) (perSequence * o.openSequences()))) {
                    KvCache[] open = new KvCache[o.openSequences()];
                    DecodeAttention[] attns = new DecodeAttention[o.openSequences()];
                    long before = mx.getCurrentThreadAllocatedBytes();
                    for (int s = 0; s < o.sequences(); s++) {
                        int slot = rnd.nextInt(open.length);
                        if (open[slot] != null) {
                            attns[slot].close();
                            open[slot].close();
                        }
                        KvCache cache = KvCache.create(shape, config, pool, runner);
                        open[slot] = cache;
                        attns[slot] = new DecodeAttention(cache, runner);
                        int prefill = 64 + rnd.nextInt(o.maxSequenceTokens() - 63 - 16);
                        int from = rnd.nextInt(buffer - prefill);
                        for (int l = 0; l < shape.layers(); l++) {
                            cache.append(l, keys.asSlice(from * tokenBytes, prefill * tokenBytes),
                                    values.asSlice(from * tokenBytes, prefill * tokenBytes), prefill, InputType.F32);
                        }
                        for (int step = 0; step < 16; step++) {
                            for (int l = 0; l < shape.layers(); l++) {
                                cache.append(l, kt[(from + prefill + step) % buffer], vt[(from + prefill + step) % buffer], 1,
                                        InputType.F32);
                                attns[slot].attend(l, q, out);
                            }
                        }
                        if ((s + 1) % o.sequenceSampleEvery() == 0 || s + 1 == o.sequences()) {
                            if (s + 1 > o.sequences() / 5 && seqFirstSample < 0) {
                                seqFirstSample = samples.size();
                            }
                            samples.add(sample("sequences", s + 1, started, cache.retainedTokenCount(0), pool,
                                    mx.getCurrentThreadAllocatedBytes() - before));
                            progress.accept(o.streamTokens() + s + 1);
                            before = mx.getCurrentThreadAllocatedBytes();
                        }
                    }
                    for (int i = 0; i < open.length; i++) {
                        if (open[i] != null) {
                            attns[i].close();
                            open[i].close();
                        }
                    }
                    int inUse = pool.pagesInUse();
                    checks.add(new Check("sequences: every page back in the pool after the last close", inUse == 0,
                            inUse + " pages still in use"));
                    int bound = (int) (perSequence * o.openSequences());
                    checks.add(new Check("sequences: pool stays within " + o.openSequences() + " sequences' pages",
                            pool.allocatedPages() <= bound, pool.allocatedPages() + " of " + bound + " pages allocated"));
                    long windowBound = windowBytesBound(config, shape) * o.openSequences();
                    checks.add(new Check("sequences: pool window chunks within " + o.openSequences() + " sequences' windows",
                            pool.windowBytes() <= windowBound && pool.report().windowBytesInUse() == 0,
                            pool.windowBytes() / 1024 + " of " + windowBound / 1024 + " KiB allocated, "
                                    + pool.report().windowBytesInUse() / 1024 + " KiB in use after the last close"));
                }
                List<Sample> warmSeq = seqFirstSample < 0 ? List.of() : samples.subList(seqFirstSample, samples.size());
                checks.add(flatNative("sequences", warmSeq));
            }

            // Phase 3: forks, appends, evictions and closes in random order on one pool.
            if (o.forkOps() > 0) {
                SoakForkPhase.run(o, runner, new SoakForkPhase.Data(keys, values, kt, vt, q, out), rnd, started, samples, checks,
                        progress, o.streamTokens() + o.sequences());
            }
        }
        double stepMicros = streamSteps == 0 ? 0 : streamNanos / 1e3 / streamSteps;
        return new Report(o, nmtEnabled(), List.copyOf(samples), List.copyOf(checks),
                streamSteps == 0 ? 0 : streamAllocated / streamSteps, stepMicros);
    }

    /**
     * The most window-chunk bytes one sequence of {@code config} (no forks) can hold: per head its
     * window capacity in 16-token chunks, plus one where the tokens straddle a chunk boundary.
     */
    static long windowBytesBound(CacheConfig config, ModelShape shape) {
        long chunkBytes = 2L * 16 * shape.headDim() * Float.BYTES;
        long n = 0;
        for (int l = 0; l < shape.layers(); l++) {
            n += (long) (Math.ceilDiv(config.layer(l).windowCapacity(), 16) + 1) * shape.kvHeads();
        }
        return n * chunkBytes;
    }

    /** Warm-up: a fifth of the stream, and at least until the sequence is full and evicting. */
    static long warmupSteps(Options o) {
        return Math.max(o.streamTokens() / 5, 2L * o.capacity());
    }

    private static Check flatPool(List<Sample> warm) {
        if (warm.isEmpty()) {
            return new Check("stream: pool allocates no page after warm-up", false, "no samples after warm-up (run longer)");
        }
        int min = warm.stream().mapToInt(Sample::poolAllocatedPages).min().orElseThrow();
        int max = warm.stream().mapToInt(Sample::poolAllocatedPages).max().orElseThrow();
        long wmin = warm.stream().mapToLong(Sample::poolWindowBytes).min().orElseThrow();
        long wmax = warm.stream().mapToLong(Sample::poolWindowBytes).max().orElseThrow();
        return new Check("stream: pool allocates no page and no window chunk after warm-up", min == max && wmin == wmax,
                "allocated pages " + min + ".." + max + ", window chunks " + wmin / 1024 + ".." + wmax / 1024 + " KiB over "
                        + warm.size() + " samples");
    }

    static Check flatNative(String phase, List<Sample> warm) {
        String name = phase + ": native memory outside the pool flat after warm-up (NMT)";
        if (warm.isEmpty()) {
            return new Check(name, false, "no samples after warm-up (run longer)");
        }
        if (warm.get(0).nmtOtherCommitted() < 0) {
            return new Check(name, true, "skipped: NMT is off (run with -XX:NativeMemoryTracking=summary)");
        }
        long min = warm.stream().mapToLong(Sample::nativeOutsidePool).min().orElseThrow();
        long max = warm.stream().mapToLong(Sample::nativeOutsidePool).max().orElseThrow();
        return new Check(name, max - min <= NATIVE_TOLERANCE_BYTES,
                String.format(java.util.Locale.ROOT, "%.2f..%.2f MiB (tolerance %.1f MiB)", min / 1048576.0, max / 1048576.0,
                        NATIVE_TOLERANCE_BYTES / 1048576.0));
    }

    static Sample sample(String phase, long step, long started, int retained, PagePool pool, long allocated) {
        long[] nmt = nmt();
        long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        return new Sample(phase, step, (System.nanoTime() - started) / 1_000_000, retained, pool.pagesInUse(),
                pool.allocatedPages(), pool.nativeBytes(), pool.windowBytes(), nmt[0], nmt[1], heap, allocated);
    }

    private static final Pattern TOTAL = Pattern.compile("Total: reserved=(\\d+)KB, committed=(\\d+)KB");
    private static final Pattern OTHER = Pattern.compile("-\\s+Other \\(reserved=(\\d+)KB, committed=(\\d+)KB\\)");

    /** {total committed, Other committed} in bytes from NMT's summary, or {-1, -1} when NMT is off. */
    static long[] nmt() {
        String text = nmtSummary();
        Matcher total = TOTAL.matcher(text);
        Matcher other = OTHER.matcher(text);
        if (!total.find()) {
            return new long[]{-1, -1};
        }
        long otherCommitted = other.find() ? Long.parseLong(other.group(2)) * 1024 : 0;
        return new long[]{Long.parseLong(total.group(2)) * 1024, otherCommitted};
    }

    static boolean nmtEnabled() {
        return TOTAL.matcher(nmtSummary()).find();
    }

    private static String nmtSummary() {
        try {
            Object r = ManagementFactory.getPlatformMBeanServer().invoke(new ObjectName("com.sun.management:type=DiagnosticCommand"),
                    "vmNativeMemory", new Object[]{new String[]{"summary", "scale=KB"}}, new String[]{String[].class.getName()});
            return String.valueOf(r);
        } catch (Exception e) {
            return "";
        }
    }

    /** [tokens, kvHeads, d] float32; keys get a few outlier channels per head, like real keys. */
    private static MemorySegment tokens(Arena arena, SplittableRandom rnd, int tokens, ModelShape shape, boolean keys) {
        int d = shape.headDim();
        MemorySegment seg = arena.allocate((long) tokens * shape.tokenElements() * Float.BYTES, 64);
        for (long i = 0; i < (long) tokens * shape.tokenElements(); i++) {
            int c = (int) (i % d);
            double scale = keys && c % 16 == 3 ? 6.0 : 1.0;
            seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (scale * rnd.nextGaussian()));
        }
        return seg;
    }
}
