package io.vidkv.kernel;

import io.vidkv.internal.CacheAccess;
import io.vidkv.internal.HeadStream;
import io.vidkv.KvCache;
import io.vidkv.LayerConfig;
import io.vidkv.ModelShape;
import io.vidkv.ParallelRunner;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

import static io.vidkv.kernel.KernelMath.LANES;

/**
 * Attention of one new query token per query head over one layer of a {@link KvCache}, computed
 * straight from the packed blocks (METHOD.md section 7): no block is ever expanded to a float copy
 * in memory, except FP16 blocks (converted into an L1 scratch) and the layouts without a code
 * kernel (reference mode, per-token keys), which are dequantized block by block.
 *
 * <p>Per step, reading top to bottom:
 * <ol>
 *   <li>the queries of the up to {@link KernelMath#LANES} query heads that share a KV head (a lane
 *       group) are mapped once into the key layout's row space (VidKV: one batched FFTW r2c) and
 *       stored with the query heads in the lanes of one vector;
 *   <li>the work is split into fixed items, independent of the thread count: (KV head, lane group,
 *       chunk of {@value #CHUNK_TOKENS} tokens) plus (KV head, lane group, residual window);
 *   <li>each item walks its blocks: the family's {@link KeyKernel} scores the block's tokens from
 *       the codes, {@link KernelMath#softmax} folds them into the item's running (max, sum) and turns
 *       them into weights, and the family's {@link ValueKernel} accumulates the values from the codes;
 *       the residual window is attended exactly, in tiles;
 *   <li>the caller's thread merges each query head's items in item order.
 * </ol>
 * Results are bit-identical for any number of threads and equal to "dequantize the cache, then
 * softmax(q K^T / sqrt(d)) V" up to float32 rounding. Nothing is allocated on the Java heap per
 * step.
 *
 * <p>Threading: one thread at a time per instance, because the instance owns the step's scratch
 * (queries, partial results, per-worker buffers); create one {@code DecodeAttention} per thread,
 * they may attend the same cache at once (attention only reads it). An {@link #attend} that would
 * overlap another call on the same instance throws {@link IllegalStateException} and touches
 * neither the output nor the scratch; so does an attend while another thread appends to, protects
 * or closes the cache (see {@link KvCache}). The checks are a few atomic operations per step, no
 * lock and no allocation. The work inside one step is spread over the {@link ParallelRunner}'s
 * threads, which must stay open. {@link #close} is idempotent; after it, attend throws
 * {@link IllegalStateException}.
 */
public final class DecodeAttention implements AutoCloseable {

    /** Tokens per work item (a multiple of every group size). */
    public static final int CHUNK_TOKENS = 1024;

    private final KvCache cache;
    private final ModelShape shape;
    private final ParallelRunner runner;
    private final KernelMath math;
    private final KeyKernel[] keyKernels;
    private final ValueKernel[] valueKernels;
    private final int d;
    private final int gq;
    private final int laneGroups;
    private final int maxItemsPerHead;
    private final float[] queries;
    /** Row-space queries per (KV head, lane group): [kv][lane group][r][lane]. */
    private final float[] rowQueries;
    /** Channel-space queries times 1/sqrt(d), for the residual window: same shape. */
    private final float[] windowQueries;
    private final float[] partMax;
    private final float[] partSum;
    private final float[] partOut;
    private final BlockScratch[] workers;
    private final Step step = new Step();
    /**
     * {@link #IDLE}, {@link #IN_USE} by one attend, or {@link #CLOSED}: concurrent use of the scratch
     * would silently mix two steps' partial results, so a second caller fails instead.
     */
    private final AtomicInteger use = new AtomicInteger();
    private static final int IDLE = 0;
    private static final int IN_USE = 1;
    private static final int CLOSED = 2;

    /**
     * Decode attention over {@code cache}. Sizes every scratch once, for the cache's capacity, and
     * prepares the FFTW plans of every layer, so that no step allocates.
     *
     * @param cache  the sequence to attend; it must outlive this object
     * @param runner splits a step across (KV head, lane group, 1,024-token chunk) items; may be null
     *               (the calling thread only). Results are bit-identical for any thread count.
     * @throws IllegalStateException if the cache is closed
     */
    public DecodeAttention(KvCache cache, ParallelRunner runner) {
        this(cache, runner, KernelProvider.MATH);
    }

    /** With a given kernel body (tests compare the two). */
    DecodeAttention(KvCache cache, ParallelRunner runner, KernelMath math) {
        this.cache = cache;
        this.shape = cache.shape();
        this.runner = runner;
        this.math = math;
        this.d = shape.headDim();
        this.gq = shape.queriesPerKvHead();
        this.laneGroups = (gq + LANES - 1) / LANES;
        int layers = shape.layers();
        this.keyKernels = new KeyKernel[layers];
        this.valueKernels = new ValueKernel[layers];
        int maxG = 8;
        for (int l = 0; l < layers; l++) {
            LayerConfig lc = cache.layerConfig(l);
            maxG = Math.max(maxG, lc.groupSize());
            keyKernels[l] = KernelProvider.keys(math, lc, CacheAccess.keyCodec(cache, l), d);
            valueKernels[l] = KernelProvider.values(math, lc, CacheAccess.valueCodec(cache, l), d);
        }
        this.maxItemsPerHead = cache.config().capacity().maxTokens() / CHUNK_TOKENS + 2;
        int groupsTotal = shape.kvHeads() * laneGroups;
        int items = groupsTotal * maxItemsPerHead;
        this.queries = new float[shape.queryHeads() * d];
        this.rowQueries = new float[groupsTotal * d * LANES];
        this.windowQueries = new float[groupsTotal * d * LANES];
        this.partMax = new float[items * LANES];
        this.partSum = new float[items * LANES];
        this.partOut = new float[items * d * LANES];
        int threads = runner == null ? 1 : runner.threads();
        this.workers = new BlockScratch[threads];
        for (int w = 0; w < threads; w++) {
            workers[w] = new BlockScratch(d, maxG, Math.min(gq, LANES));
        }
        for (int l = 0; l < layers; l++) {
            for (BlockScratch w : workers) {
                CacheAccess.keyCodec(cache, l).prepare(w.codec); // FFTW plans now, not on the first step
            }
        }
    }

    /**
     * The kernel body this instance runs (the process's choice, see {@link #kernelBody}).
     *
     * @return the body's name
     */
    public String kernelName() {
        return math.name();
    }

    /**
     * Which kernel body this process runs, chosen once at startup: the Vector API body with its
     * lane widths, or the plain-Java body and why (module {@code jdk.incubator.vector} not loaded,
     * or {@code -Dvidkv.vector=false}), after the platform's preferred vector species.
     *
     * @return a one-line description, e.g. for a startup log
     */
    public static String kernelBody() {
        return KernelProvider.MATH.name() + " (" + VectorSupport.describe() + ")";
    }

    /**
     * One decode step of {@code layer} with every retained token visible (the query is the newest
     * token, appended before this call).
     *
     * @param layer      the layer, {@code 0 <= layer < shape.layers()}
     * @param queriesF32 {@code [queryHeads][headDim]} float32, after RoPE; any memory
     * @param outF32     {@code [queryHeads][headDim]} float32, written
     * @throws IllegalArgumentException if a segment has the wrong size or a query is not finite
     * @throws IllegalStateException    as for {@link #attend(int, MemorySegment, MemorySegment, int)}
     */
    public void attend(int layer, MemorySegment queriesF32, MemorySegment outF32) {
        attend(layer, queriesF32, outF32, Integer.MAX_VALUE);
    }

    /**
     * Attention output for {@code layer}: {@code queriesF32} holds [queryHeads, headDim] float32, the
     * result goes to {@code outF32} (same shape). Tokens at positions greater than
     * {@code lastVisible} are masked (causal mask for a query at that position). Computed from the
     * packed codes; equal to "dequantize, then float attention" up to float32 rounding; allocates
     * nothing.
     *
     * @param layer       the layer, {@code 0 <= layer < shape.layers()}
     * @param queriesF32  {@code [queryHeads][headDim]} float32, after RoPE
     * @param outF32      {@code [queryHeads][headDim]} float32, written
     * @param lastVisible the last visible position ({@code Integer.MAX_VALUE}: all)
     * @throws IllegalArgumentException if a segment has the wrong size or a query is not finite
     *
     * @throws IllegalStateException this instance is closed or in use by another thread, or the cache
     *                               is closed, failed or being written by another thread (nothing
     *                               was written to {@code outF32})
     */
    public void attend(int layer, MemorySegment queriesF32, MemorySegment outF32, int lastVisible) {
        int witness = use.compareAndExchange(IDLE, IN_USE);
        if (witness != IDLE) {
            throw new IllegalStateException(witness == CLOSED ? "DecodeAttention is closed"
                    : "DecodeAttention is in use by another thread: create one DecodeAttention per thread "
                    + "(it owns the step's scratch); nothing was computed");
        }
        try {
            CacheAccess.beginRead(cache);
            try {
                attendHeld(layer, queriesF32, outF32, lastVisible);
            } finally {
                CacheAccess.endRead(cache);
            }
        } finally {
            use.set(IDLE);
        }
    }

    /** One step, with this instance and a read of the cache held by {@link #attend}. */
    private void attendHeld(int layer, MemorySegment queriesF32, MemorySegment outF32, int lastVisible) {
        int tokens = cache.tokenCount(layer);
        long need = (long) shape.queryHeads() * d * Float.BYTES;
        if (queriesF32.byteSize() < need || outF32.byteSize() < need) {
            throw new IllegalArgumentException("layer " + layer + ": queries and output need " + need + " bytes ([" + shape.queryHeads()
                    + " query heads, " + d + " dims] float32), got " + queriesF32.byteSize() + " and " + outF32.byteSize());
        }
        if (tokens == 0 || lastVisible < 0) {
            throw new IllegalStateException("layer " + layer + " has no visible tokens to attend to");
        }
        int first = cache.firstRetainedToken(layer);
        if (lastVisible < first) {
            throw new IllegalStateException("layer " + layer + ": every token at or before position " + lastVisible
                    + " was evicted (the layer holds positions " + first + " to " + (tokens - 1) + ")");
        }
        long started = System.nanoTime();
        MemorySegment.copy(queriesF32, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, queries, 0, queries.length);
        for (float v : queries) {
            if (!Float.isFinite(v)) {
                throw new IllegalArgumentException("layer " + layer + ": query contains a non-finite value " + v);
            }
        }
        float scale = (float) (1.0 / Math.sqrt(d));
        KeyKernel keys = keyKernels[layer];
        BlockScratch s0 = workers[0];
        for (int h = 0; h < shape.kvHeads(); h++) {
            HeadStream hs = CacheAccess.stream(cache, layer, h);
            for (int lg = 0; lg < laneGroups; lg++) {
                int qOff = (h * gq + lg * LANES) * d, heads = lanes(lg), at = (h * laneGroups + lg) * d * LANES;
                keys.prepare(queries, qOff, heads, scale, hs.state(), rowQueries, at, s0);
                BlockScratch.scaledLanes(queries, qOff, heads, d, scale, windowQueries, at);
            }
        }
        int g = cache.layerConfig(layer).groupSize();
        int blocks = CacheAccess.stream(cache, layer, 0).blockCount();
        int chunks = (blocks * g + CHUNK_TOKENS - 1) / CHUNK_TOKENS;
        step.begin(layer, g, blocks, chunks, lastVisible, scale);
        int items = shape.kvHeads() * laneGroups * (chunks + 1);
        if (runner == null) {
            for (int i = 0; i < items; i++) {
                step.run(i, 0);
            }
        } else {
            runner.run(items, step);
        }
        reduce(chunks + 1, outF32);
        io.vidkv.jfr.AttentionStepEvent.record(layer, tokens, cache.layerName(layer), System.nanoTime() - started);
    }

    /** Query heads in lane group lg. */
    private int lanes(int lg) {
        return Math.min(LANES, gq - lg * LANES);
    }

    /** Merges each query head's items in item order and normalizes. */
    private void reduce(int itemsPerGroup, MemorySegment out) {
        for (int qh = 0; qh < shape.queryHeads(); qh++) {
            int kv = qh / gq, jj = qh % gq, lg = jj / LANES, lane = jj % LANES;
            int item0 = (kv * laneGroups + lg) * itemsPerGroup;
            float m = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < itemsPerGroup; c++) {
                m = Math.max(m, partMax[(item0 + c) * LANES + lane]);
            }
            float l = 0f;
            float[] o = workers[0].out;
            Arrays.fill(o, 0, d, 0f);
            for (int c = 0; c < itemsPerGroup; c++) {
                int item = item0 + c;
                float pm = partMax[item * LANES + lane];
                if (pm == Float.NEGATIVE_INFINITY) {
                    continue;
                }
                float w = ExpApprox.exp(pm - m);
                l += partSum[item * LANES + lane] * w;
                int base = item * d * LANES + lane;
                for (int x = 0; x < d; x++) {
                    o[x] += w * partOut[base + x * LANES];
                }
            }
            float inv = 1f / l;
            for (int x = 0; x < d; x++) {
                out.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, (long) qh * d + x, o[x] * inv);
            }
        }
    }

    /** The work of one step; a reused object, so a step allocates nothing. */
    private final class Step implements ParallelRunner.Task {
        private int layer;
        private int g;
        private int blocks;
        private int chunks;
        private int lastVisible;
        private float scale;
        private long keyBytes;

        void begin(int layer, int g, int blocks, int chunks, int lastVisible, float scale) {
            this.layer = layer;
            this.g = g;
            this.blocks = blocks;
            this.chunks = chunks;
            this.lastVisible = lastVisible;
            this.scale = scale;
            this.keyBytes = CacheAccess.keyCodec(cache, layer).blockBytes();
        }

        @Override
        public void run(int item, int worker) {
            int itemsPerGroup = chunks + 1;
            int group = item / itemsPerGroup, chunk = item % itemsPerGroup;
            int kv = group / laneGroups, lg = group % laneGroups;
            BlockScratch s = workers[worker];
            Arrays.fill(s.max, Float.NEGATIVE_INFINITY);
            Arrays.fill(s.sum, 0f);
            Arrays.fill(s.out, 0f);
            HeadStream hs = CacheAccess.stream(cache, layer, kv);
            int at = group * d * LANES;
            if (chunk < chunks) {
                KeyKernel keys = keyKernels[layer];
                ValueKernel values = valueKernels[layer];
                int perChunk = CHUNK_TOKENS / g;
                int end = Math.min(blocks, (chunk + 1) * perChunk);
                int qOff = (kv * gq + lg * LANES) * d, heads = lanes(lg);
                for (int b = chunk * perChunk; b < end; b++) {
                    int position = hs.firstPosition() + b * g;
                    if (position > lastVisible) {
                        break;
                    }
                    int visible = (int) Math.min(g, (long) lastVisible - position + 1);
                    MemorySegment page = hs.page(b);
                    long off = hs.offset(b);
                    keys.score(page, off, hs.state(), rowQueries, at, queries, qOff, heads, scale, s);
                    math.softmax(s.scores, visible, g, s.max, s.sum, s.rescale);
                    values.accumulate(page, off + keyBytes, hs.state(), s, s.out, 0);
                }
            } else {
                window(hs, s, at);
            }
            System.arraycopy(s.max, 0, partMax, item * LANES, LANES);
            System.arraycopy(s.sum, 0, partSum, item * LANES, LANES);
            System.arraycopy(s.out, 0, partOut, item * d * LANES, d * LANES);
        }

        /** The residual window, exactly, in tiles of {@link BlockScratch#WINDOW_TILE} tokens. */
        private void window(HeadStream hs, BlockScratch s, int at) {
            int n = hs.windowCount();
            int firstPos = hs.firstPosition() + blocks * g;
            int visible = (int) Math.max(0, Math.min(n, (long) lastVisible - firstPos + 1));
            for (int t0 = 0; t0 < visible; t0 += BlockScratch.WINDOW_TILE) {
                int tile = Math.min(BlockScratch.WINDOW_TILE, visible - t0);
                copyRows(true, hs, t0, tile, s.rows);
                math.denseScores(s.rows, d, tile, windowQueries, at, s.scores);
                math.softmax(s.scores, tile, tile, s.max, s.sum, s.rescale);
                copyRows(false, hs, t0, tile, s.rows);
                math.denseValues(s.rows, d, tile, s.scores, s.rescale, s.out, 0);
            }
        }

        private void copyRows(boolean keys, HeadStream hs, int t0, int n, float[] rows) {
            for (int t = 0; t < n; t++) {
                int j = t0 + t;
                MemorySegment window = keys ? hs.windowKeys(j) : hs.windowValues(j);
                MemorySegment.copy(window, ValueLayout.JAVA_FLOAT, (long) hs.windowSlot(j) * d * Float.BYTES, rows, t * d, d);
            }
        }
    }

    /**
     * Frees the scratch. Idempotent; while another thread attends with this instance it throws
     * {@link IllegalStateException} and frees nothing (close after that attend returns).
     */
    @Override
    public void close() {
        int witness = use.compareAndExchange(IDLE, CLOSED);
        if (witness == CLOSED) {
            return;
        }
        if (witness == IN_USE) {
            throw new IllegalStateException("DecodeAttention is in use by another thread: close it after that attend returns "
                    + "(nothing was freed)");
        }
        for (BlockScratch w : workers) {
            w.close();
        }
    }
}
