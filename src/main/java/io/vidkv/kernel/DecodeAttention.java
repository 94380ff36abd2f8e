package io.vidkv.kernel;

import io.vidkv.HeadStream;
import io.vidkv.KvCache;
import io.vidkv.LayerConfig;
import io.vidkv.ModelShape;
import io.vidkv.ParallelRunner;
import io.vidkv.codec.CodecScratch;
import io.vidkv.codec.KeyCodec;
import io.vidkv.codec.ValueCodec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Attention of one new query token per query head over one layer of a {@link KvCache}, read in
 * place from the packed blocks (METHOD.md section 7).
 *
 * <p>Per step: each query is mapped once into its KV head's key row space (VidKV: anomalous
 * channels as they are, normal channels through one batched FFTW r2c, weighted by w_j / n) and
 * scaled by 1/sqrt(d). Work is split into fixed items, (KV head, chunk of {@value #CHUNK_TOKENS}
 * tokens) plus (KV head, residual window), independent of the thread count. Each item walks its
 * blocks: it decodes a block once for all the query heads that share the KV head (grouped-query
 * attention), computes their scores over the block's G tokens, and folds the block into a running
 * (max, sum, output) per query head (online softmax). The caller's thread then merges the items of
 * each head in item order, so results are bit-identical for any number of threads.
 *
 * <p>Equal to "dequantize the cache, then softmax(q K^T / sqrt(d)) V" up to float32 rounding.
 * Nothing is allocated on the Java heap per step. One step at a time per instance.
 */
public final class DecodeAttention implements AutoCloseable {

    /**
     * Key code consumption: "decode" (default) expands each block's key codes to float rows once,
     * shared by the query heads of the KV head; "fused" scores each query head straight from the code
     * bytes (VidKV keys only). Both compute the same function; BENCHMARKS.md has the measurements.
     */
    static final boolean FUSED_KEYS = "fused".equals(System.getProperty("vidkv.keyScoring", "decode"));

    /** Tokens per work item (a multiple of every group size). */
    public static final int CHUNK_TOKENS = 1024;

    private final KvCache cache;
    private final ModelShape shape;
    private final ParallelRunner runner;
    private final AttentionMath math = AttentionMath.INSTANCE;
    private final int d;
    private final int gq;
    private final int maxItemsPerHead;
    private final float[] queries;
    private final float[] scaledQueries;
    private final float[] rowQueries;
    private final float[] partMax;
    private final float[] partSum;
    private final float[] partOut;
    private final Worker[] workers;
    private final CodecScratch transformScratch;
    private final Step step = new Step();

    public DecodeAttention(KvCache cache, ParallelRunner runner) {
        this.cache = cache;
        this.shape = cache.shape();
        this.runner = runner;
        this.d = shape.headDim();
        this.gq = shape.queriesPerKvHead();
        int maxG = 8;
        int maxWindow = 0;
        for (int l = 0; l < shape.layers(); l++) {
            LayerConfig lc = cache.layerConfig(l);
            maxG = Math.max(maxG, lc.groupSize());
            maxWindow = Math.max(maxWindow, lc.windowCapacity());
        }
        this.maxItemsPerHead = cache.config().capacity().maxTokens() / CHUNK_TOKENS + 2;
        int items = shape.kvHeads() * maxItemsPerHead;
        this.queries = new float[shape.queryHeads() * d];
        this.scaledQueries = new float[shape.queryHeads() * d];
        this.rowQueries = new float[shape.queryHeads() * d];
        this.partMax = new float[items * gq];
        this.partSum = new float[items * gq];
        this.partOut = new float[items * gq * d];
        int threads = runner == null ? 1 : runner.threads();
        this.workers = new Worker[threads];
        for (int w = 0; w < threads; w++) {
            workers[w] = new Worker(maxG, Math.max(maxG, maxWindow));
        }
        this.transformScratch = new CodecScratch(d, maxG, gq);
        for (int l = 0; l < shape.layers(); l++) {
            cache.keyCodec(l).prepare(transformScratch);
            for (Worker w : workers) {
                cache.keyCodec(l).prepare(w.scratch);
            }
        }
    }

    /** Attends with every cached token of {@code layer} visible. */
    public void attend(int layer, MemorySegment queriesF32, MemorySegment outF32) {
        attend(layer, queriesF32, outF32, Integer.MAX_VALUE);
    }

    /**
     * Attention output for {@code layer}: {@code queriesF32} holds [queryHeads, headDim] float32, the
     * result goes to {@code outF32} (same shape). Tokens at positions greater than
     * {@code lastVisible} are masked (causal mask for a query at that position).
     */
    public void attend(int layer, MemorySegment queriesF32, MemorySegment outF32, int lastVisible) {
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
        for (int i = 0; i < queries.length; i++) {
            scaledQueries[i] = queries[i] * scale;
        }
        KeyCodec kc = cache.keyCodec(layer);
        for (int h = 0; h < shape.kvHeads(); h++) {
            HeadStream hs = cache.stream(layer, h);
            // Query heads h*gq .. h*gq+gq-1 share KV head h: one batched transform.
            System.arraycopy(queries, h * gq * d, transformScratch.f1, 0, gq * d);
            kc.transformQuery(transformScratch.f1, gq, scale, hs.state(), transformScratch.f2, transformScratch);
            System.arraycopy(transformScratch.f2, 0, rowQueries, h * gq * d, gq * d);
        }
        int g = cache.layerConfig(layer).groupSize();
        int blocks = cache.stream(layer, 0).blockCount();
        int chunks = (blocks * g + CHUNK_TOKENS - 1) / CHUNK_TOKENS;
        step.begin(layer, g, blocks, chunks, lastVisible);
        int items = shape.kvHeads() * (chunks + 1);
        if (runner == null) {
            for (int i = 0; i < items; i++) {
                step.run(i, 0);
            }
        } else {
            runner.run(items, step);
        }
        step.clear();
        reduce(chunks + 1, outF32);
        io.vidkv.jfr.AttentionStepEvent.record(layer, tokens, cache.layerName(layer), System.nanoTime() - started);
    }

    /** Merges each query head's partial results in item order and normalizes. */
    private void reduce(int itemsPerHead, MemorySegment out) {
        float[] o = workers[0].acc;
        for (int qh = 0; qh < shape.queryHeads(); qh++) {
            int kv = qh / gq, j = qh % gq;
            float m = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < itemsPerHead; c++) {
                m = Math.max(m, partMax[(kv * itemsPerHead + c) * gq + j]);
            }
            float l = 0f;
            Arrays.fill(o, 0, d, 0f);
            for (int c = 0; c < itemsPerHead; c++) {
                int slot = (kv * itemsPerHead + c) * gq + j;
                float pm = partMax[slot];
                if (pm == Float.NEGATIVE_INFINITY) {
                    continue;
                }
                float w = (float) Math.exp(pm - m);
                l += partSum[slot] * w;
                for (int x = 0; x < d; x++) {
                    o[x] += w * partOut[slot * d + x];
                }
            }
            float inv = 1f / l;
            for (int x = 0; x < d; x++) {
                out.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, (long) qh * d + x, o[x] * inv);
            }
        }
    }

    /** Per-thread buffers. */
    private final class Worker {
        final CodecScratch scratch;
        final float[] rows;
        final float[] vals;
        final float[] scores;
        final float[] acc;
        final float[] rawQueries;
        final float[] blockQueries;

        Worker(int maxG, int maxWindow) {
            rawQueries = new float[gq * d];
            blockQueries = new float[gq * d];
            scratch = new CodecScratch(d, maxG, gq);
            rows = new float[d * maxG];
            vals = new float[maxG * d];
            scores = new float[gq * maxWindow];
            acc = new float[Math.max(d, 8)];
        }
    }

    /** The work of one step; a reused object, so a step allocates nothing. */
    private final class Step implements ParallelRunner.Task {
        private int layer;
        private int g;
        private int blocks;
        private int chunks;
        private int lastVisible;
        private KeyCodec kc;
        private ValueCodec vc;
        private long keyBytes;

        void begin(int layer, int g, int blocks, int chunks, int lastVisible) {
            this.layer = layer;
            this.g = g;
            this.blocks = blocks;
            this.chunks = chunks;
            this.lastVisible = lastVisible;
            this.kc = cache.keyCodec(layer);
            this.vc = cache.valueCodec(layer);
            this.keyBytes = kc.blockBytes();
        }

        void clear() {
            kc = null;
            vc = null;
        }

        @Override
        public void run(int item, int worker) {
            int itemsPerHead = chunks + 1;
            int kv = item / itemsPerHead;
            int chunk = item % itemsPerHead;
            int slot0 = item * gq;
            for (int j = 0; j < gq; j++) {
                partMax[slot0 + j] = Float.NEGATIVE_INFINITY;
                partSum[slot0 + j] = 0f;
            }
            Arrays.fill(partOut, slot0 * d, (slot0 + gq) * d, 0f);
            HeadStream hs = cache.stream(layer, kv);
            Worker w = workers[worker];
            if (chunk < chunks) {
                int perChunk = CHUNK_TOKENS / g;
                int first = chunk * perChunk;
                int end = Math.min(blocks, first + perChunk);
                int position0 = hs.firstPosition();
                for (int b = first; b < end; b++) {
                    int position = position0 + b * g;
                    if (position > lastVisible) {
                        break;
                    }
                    block(hs, b, position, w, slot0, kv);
                }
            } else {
                window(hs, w, slot0, kv);
            }
        }

        private void block(HeadStream hs, int b, int position, Worker w, int slot0, int kv) {
            MemorySegment page = hs.page(b);
            long off = hs.offset(b);
            int visible = (int) Math.min(g, (long) lastVisible - position + 1);
            if (FUSED_KEYS && kc instanceof io.vidkv.codec.VidkvKeyCodec vk && !kc.rowSpacePerBlock()) {
                vk.scoreBlockFused(page, off, hs.state(), rowQueries, kv * gq * d, gq, w.scores, w.scratch);
                finishBlock(hs, page, off, visible, w, slot0);
                return;
            }
            kc.decodeRows(page, off, hs.state(), w.rows, 0, w.scratch);
            float[] qs = rowQueries;
            int qBase = kv * gq * d;
            if (kc.rowSpacePerBlock()) {
                // per-group channel split: this block has its own row space, transform the queries for it
                System.arraycopy(queries, kv * gq * d, w.rawQueries, 0, gq * d);
                kc.transformQueryForBlock(page, off, w.rawQueries, gq, (float) (1.0 / Math.sqrt(d)), hs.state(),
                        w.blockQueries, w.scratch);
                qs = w.blockQueries;
                qBase = 0;
            }
            int j = 0;
            for (; j + 1 < gq; j += 2) {
                math.scores2(w.rows, d, g, qs, qBase + j * d, qBase + (j + 1) * d, w.scores, j * g, (j + 1) * g);
            }
            if (j < gq) {
                math.scores(w.rows, d, g, qs, qBase + j * d, w.scores, j * g);
            }
            finishBlock(hs, page, off, visible, w, slot0);
        }

        /** Causal mask, value decode and the online-softmax fold of a scored block. */
        private void finishBlock(HeadStream hs, MemorySegment page, long off, int visible, Worker w, int slot0) {
            if (visible < g) {
                for (int j = 0; j < gq; j++) {
                    for (int t = visible; t < g; t++) {
                        w.scores[j * g + t] = Float.NEGATIVE_INFINITY;
                    }
                }
            }
            vc.decode(page, off + keyBytes, hs.state(), w.vals, 0, w.scratch);
            for (int j = 0; j < gq; j++) {
                fold(w.scores, j * g, g, w.vals, slot0 + j);
            }
        }

        private void window(HeadStream hs, Worker w, int slot0, int kv) {
            int n = hs.windowCount();
            int firstPos = hs.firstPosition() + blocks * g;
            int visible = (int) Math.max(0, Math.min(n, (long) lastVisible - firstPos + 1));
            if (visible == 0) {
                return;
            }
            MemorySegment keys = hs.windowKeys();
            MemorySegment values = hs.windowValues();
            for (int j = 0; j < gq; j++) {
                int qOff = (kv * gq + j) * d;
                int sOff = j * visible;
                for (int t = 0; t < visible; t++) {
                    w.scores[sOff + t] = math.dot(scaledQueries, qOff, keys, (long) hs.windowSlot(t) * d * Float.BYTES, d);
                }
                int slot = slot0 + j;
                float m = math.max(w.scores, sOff, visible);
                float sum = math.expShiftSum(w.scores, sOff, visible, m);
                partMax[slot] = m;
                partSum[slot] = sum;
                for (int t = 0; t < visible; t++) {
                    math.axpy(w.scores[sOff + t], values, (long) hs.windowSlot(t) * d * Float.BYTES, d, partOut, slot * d);
                }
            }
        }

        /** Online softmax update of one query head's running state with a block's scores. */
        private void fold(float[] scores, int sOff, int n, float[] vals, int slot) {
            float blockMax = math.max(scores, sOff, n);
            if (blockMax == Float.NEGATIVE_INFINITY) {
                return;
            }
            float m = partMax[slot];
            float mNew = Math.max(m, blockMax);
            float rescale = m == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(m - mNew);
            float sum = math.expShiftSum(scores, sOff, n, mNew);
            partSum[slot] = partSum[slot] * rescale + sum;
            partMax[slot] = mNew;
            math.accumulate(vals, n, d, scores, sOff, rescale, partOut, slot * d);
        }
    }

    @Override
    public void close() {
        for (Worker w : workers) {
            w.scratch.close();
        }
        transformScratch.close();
    }
}
