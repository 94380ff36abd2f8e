package io.vidkv.kernel;

import io.vidkv.internal.CacheAccess;
import io.vidkv.internal.HeadStream;
import io.vidkv.KvCache;
import io.vidkv.ModelShape;
import io.vidkv.codec.CodecScratch;
import io.vidkv.codec.KeyCodec;
import io.vidkv.nativelib.Dnnl;
import io.vidkv.nativelib.DnnlDataType;
import io.vidkv.nativelib.MatmulShape;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Attention of many queries at once (a prefill chunk, or a batch of text-query tokens) against one
 * layer of a {@link KvCache}, with a causal mask. Per KV head, the queries of all its query heads
 * form one matrix; the cache is walked in tiles of {@code tileTokens} tokens decoded into a
 * bounded, reused native tile (never the whole cache), and each tile costs two oneDNN f32 matmuls:
 * S = Q K^T / sqrt(d), then O += P V, with an online softmax across tiles (running max and sum per
 * query row, O rescaled when the max grows), done in place on the native score tile. Keys are
 * decoded into the key codec's row space (VidKV: anomalous channels and spectral components, the
 * decode kernel's space) and the queries transformed into it once per call, so no key is
 * inverse-transformed. Tiles entirely after the chunk's last position are skipped. The same loop on
 * float32 K/V in place is the FP32 dense reference attention the tests use.
 *
 * <p>Threading: one thread at a time per instance (one chunk at a time), because the instance owns
 * the tiles and the running softmax state; create one {@code PrefillAttention} per thread. A call
 * that would overlap another on the same instance throws {@link IllegalStateException} and writes
 * nothing; so does {@link #attend} while another thread appends to, protects or closes the cache
 * (see {@link KvCache}). Any thread may use the instance in turn (its memory is not confined to the
 * creating thread). oneDNN parallelizes each matmul with its own OpenMP threads. {@link #close} is
 * idempotent; after it, every call throws {@link IllegalStateException}.
 */
public final class PrefillAttention implements AutoCloseable {

    /**
     * Time split of the last call, in nanoseconds.
     *
     * @param dequantizeNanos decoding cache tiles into the float32 tile
     * @param matmulNanos     the two oneDNN matmuls per tile
     * @param softmaxNanos    the online softmax between them
     */
    public record Timing(long dequantizeNanos, long matmulNanos, long softmaxNanos) {
    }

    private final KvCache cache;
    private final ModelShape shape;
    private final Dnnl dnnl;
    /** Whether {@link #close} closes {@link #dnnl} (the public constructor makes its own engine). */
    private final boolean ownsDnnl;
    private final int maxQueries;
    private final int tileTokens;
    private final int d;
    private final int gq;
    /** Shared, not confined: the contract is one thread at a time, not only the creating thread. */
    private final Arena arena = Arena.ofShared();
    private final MemorySegment qTile;
    private final MemorySegment kTile;
    private final MemorySegment vTile;
    private final MemorySegment scores;
    private final MemorySegment outTile;
    /** Zeros for a one-token tile's second key and value (a bulk copy, not an allocating slice fill). */
    private final MemorySegment zeros;
    /** The online softmax between the two matmuls, with each query row's running shift and sum. */
    private final TileSoftmax softmax;
    /** Codec scratch, a block of floats, the layers' key tiles. */
    private final Scratch work;
    /** The call's query rows (n gq of them) in channel space and in row space: one batched transform per KV head. */
    private final float[] query;
    private final float[] queryRows;
    private final KernelMath math = KernelProvider.MATH;
    private long dequantizeNanos;
    private long matmulNanos;
    private long softmaxNanos;
    /** {@link #IDLE}, {@link #IN_USE} by one call, or {@link #CLOSED}; a second caller fails instead of mixing tiles. */
    private final AtomicInteger use = new AtomicInteger();
    private static final int IDLE = 0;
    private static final int IN_USE = 1;
    private static final int CLOSED = 2;

    /**
     * Prefill attention over {@code cache}, on a oneDNN CPU engine of its own (closed with this
     * object; the engine's primitives are cached per shape, so keep one instance per thread rather
     * than one per call).
     *
     * @param cache      the cache to read
     * @param maxQueries most query tokens per {@link #attend} call (each brings queriesPerKvHead rows
     *                   per KV head); the tiles are sized for it once
     * @param tileTokens cache tokens per tile, a positive multiple of 64 (256 or 512 are good choices:
     *                   the score tile is {@code maxQueries x queriesPerKvHead x tileTokens} floats)
     * @throws IllegalArgumentException if {@code maxQueries} or {@code tileTokens} is out of range
     * @throws IllegalStateException    if the cache is closed
     */
    public PrefillAttention(KvCache cache, int maxQueries, int tileTokens) {
        this(checkOpen(cache), cache.shape(), null, maxQueries, tileTokens);
    }

    private static KvCache checkOpen(KvCache cache) {
        if (cache.isClosed()) {
            throw new IllegalStateException("KvCache is closed");
        }
        return cache;
    }

    /**
     * @param cache      the cache to read (may be null for {@link #attendDense} only; then {@code shape} is used)
     * @param shape      the model shape
     * @param dnnl       the oneDNN engine to run matmuls on, or null for one of its own
     * @param maxQueries most query tokens per call (each brings queriesPerKvHead rows per KV head)
     * @param tileTokens tokens per tile (a multiple of every layer's group size)
     */
    PrefillAttention(KvCache cache, ModelShape shape, Dnnl dnnl, int maxQueries, int tileTokens) {
        if (maxQueries <= 0 || tileTokens <= 0 || tileTokens % 64 != 0) {
            throw new IllegalArgumentException("maxQueries must be > 0 and tileTokens a positive multiple of 64, got "
                    + maxQueries + " and " + tileTokens);
        }
        this.cache = cache;
        this.shape = shape;
        this.ownsDnnl = dnnl == null;
        this.dnnl = dnnl != null ? dnnl : Dnnl.create();
        this.maxQueries = maxQueries;
        this.tileTokens = tileTokens;
        this.d = shape.headDim();
        this.gq = shape.queriesPerKvHead();
        int rows = maxQueries * gq;
        this.qTile = arena.allocate((long) rows * d * 4, 64);
        this.kTile = arena.allocate((long) tileTokens * d * 4, 64);
        this.vTile = arena.allocate((long) tileTokens * d * 4, 64);
        this.scores = arena.allocate((long) rows * tileTokens * 4, 64);
        this.outTile = arena.allocate((long) rows * d * 4, 64);
        this.zeros = arena.allocate((long) d * 4, 64);
        this.softmax = new TileSoftmax(math, scores, outTile, arena.allocate((long) tileTokens * 4, 64), rows, tileTokens, d, gq);
        this.query = new float[rows * d];
        this.queryRows = new float[rows * d];
        this.work = new Scratch(cache, shape, math, rows);
    }

    /**
     * Where the last {@link #attend} call spent its time.
     *
     * @return the split, all zero before the first call
     */
    public Timing lastTiming() {
        return new Timing(dequantizeNanos, matmulNanos, softmaxNanos);
    }

    /**
     * Attention for {@code n} query tokens at positions {@code firstPosition .. firstPosition + n - 1}
     * over {@code layer} of the cache; query token i attends cached tokens at positions up to
     * {@code firstPosition + i}. For a prompt: append its K and V to the layer first, then attend its
     * queries with {@code firstPosition} = the prompt's first position.
     *
     * @param layer         the layer, {@code 0 <= layer < shape.layers()}
     * @param queries       {@code [n][queryHeads][headDim]} float32, after RoPE
     * @param out           {@code [n][queryHeads][headDim]} float32, written
     * @param n             query tokens, {@code 1 <= n <= maxQueries}
     * @param firstPosition the position of query token 0, at or after the layer's first retained token
     * @throws IllegalArgumentException if a size is wrong, {@code n} is out of range or a query is not finite
     *
     * @throws IllegalStateException this instance is closed or in use by another thread, or the cache
     *                               is closed, failed or being written by another thread (nothing
     *                               was written to {@code out})
     */
    public void attend(int layer, MemorySegment queries, MemorySegment out, int n, int firstPosition) {
        enter();
        try {
            if (cache == null) {
                throw new IllegalStateException("this PrefillAttention was created without a cache: attendDense only");
            }
            CacheAccess.beginRead(cache);
            try {
                attendHeld(layer, queries, out, n, firstPosition);
            } finally {
                CacheAccess.endRead(cache);
            }
        } finally {
            exit();
        }
    }

    /** {@link #attend} with this instance and a read of the cache held. */
    private void attendHeld(int layer, MemorySegment queries, MemorySegment out, int n, int firstPosition) {
        checkCall(queries, out, n, firstPosition);
        int visibleEnd = (int) Math.min(cache.tokenCount(layer), (long) firstPosition + n);
        int firstKept = cache.firstRetainedToken(layer);
        if (visibleEnd <= 0) {
            throw new IllegalStateException("layer " + layer + " has no token at or before position " + firstPosition);
        }
        if (firstPosition < firstKept) {
            throw new IllegalStateException("layer " + layer + ": the query at position " + firstPosition + " would see only "
                    + "evicted tokens (the layer holds positions " + firstKept + " to " + (cache.tokenCount(layer) - 1) + ")");
        }
        checkFinite(layer, queries, n);
        resetTiming();
        KeyCodec kc = CacheAccess.keyCodec(cache, layer);
        int g = cache.layerConfig(layer).groupSize();
        if (tileTokens % g != 0) {
            throw new IllegalArgumentException("tileTokens " + tileTokens + " is not a multiple of layer " + layer + "'s group size " + g);
        }
        // Scores in the key codec's row space (VidKV: anomalous channels, then spectral components):
        // the queries are transformed once per call, and no key is inverse-transformed. A codec whose
        // row space changes per block (a per-group split) is scored in channel space instead.
        boolean rowSpace = !kc.rowSpacePerBlock();
        for (int h = 0; h < shape.kvHeads(); h++) {
            HeadStream hs = CacheAccess.stream(cache, layer, h);
            long start = System.nanoTime();
            loadQueries(queries, n, h, rowSpace ? kc : null, hs);
            dequantizeNanos += System.nanoTime() - start;
            int kept = hs.firstPosition(); // tiles are block-aligned relative to the oldest retained block
            int quantized = kept + hs.blockCount() * g;
            for (int t0 = kept; t0 < visibleEnd; t0 += tileTokens) {
                int t1 = Math.min(visibleEnd, t0 + tileTokens);
                start = System.nanoTime();
                for (int t = t0; t < t1; t += g) {
                    decodeSlot(hs, layer, kc, g, t - t0, t, t1, quantized);
                }
                dequantizeNanos += System.nanoTime() - start;
                tile(kTile, vTile, d, t0, t1 - t0, Math.min(t1, quantized + hs.windowCount()) - t0, n, firstPosition, t0 == kept);
            }
            storeOutput(out, n, h);
        }
    }

    /**
     * Up to G tokens of the tile from position t (at token {@code slot} of the tile) into kTile and
     * vTile: a whole block (tiles are block-aligned) or tokens of the exact residual window up to
     * {@code end}, keys in row space. {@code quantized} is the first window position.
     */
    private void decodeSlot(HeadStream hs, int layer, KeyCodec kc, int g, int slot, int t, int end,
                            int quantized) {
        Scratch wk = work;
        long dst = (long) slot * d * 4;
        boolean rowSpace = !kc.rowSpacePerBlock();
        if (t < quantized) {
            int b = (t - hs.firstPosition()) / g;
            if (rowSpace) {
                wk.keyTiles[layer].rows(hs.page(b), hs.offset(b), hs.state(), kTile, dst, wk.scratch);
            } else {
                kc.dequantize(hs.page(b), hs.offset(b), hs.state(), wk.block, wk.scratch);
                MemorySegment.copy(wk.block, 0, kTile, ValueLayout.JAVA_FLOAT, dst, g * d);
            }
            wk.valueTiles[layer].values(hs.page(b), hs.offset(b) + kc.blockBytes(), hs.state(), vTile, dst, wk.scratch);
            return;
        }
        int count = Math.min(g, end - t);
        for (int i = 0; i < count; i++) {
            int j = t + i - quantized;
            long at = (long) hs.windowSlot(j) * d * 4;
            MemorySegment.copy(hs.windowKeys(j), ValueLayout.JAVA_FLOAT, at, wk.block, i * d, d);
            MemorySegment.copy(hs.windowValues(j), at, vTile, dst + (long) i * d * 4, d * 4L);
        }
        float[] keys = wk.block;
        if (rowSpace) {
            kc.keyRows(wk.block, count, hs.state(), wk.rows, wk.scratch);
            keys = wk.rows;
        }
        MemorySegment.copy(keys, 0, kTile, ValueLayout.JAVA_FLOAT, dst, count * d);
    }

    /**
     * FP32 dense reference: {@code keys} and {@code values} are [tokens, kvHeads, d] float32 (used in
     * place through oneDNN leading dimensions), {@code queries}/{@code out} [n, queryHeads, d];
     * query i attends tokens at positions <= firstPosition + i.
     *
     * @throws IllegalStateException this instance is closed or in use by another thread
     */
    void attendDense(MemorySegment keys, MemorySegment values, int tokens, MemorySegment queries, MemorySegment out,
                            int n, int firstPosition) {
        enter();
        try {
            attendDenseHeld(keys, values, tokens, queries, out, n, firstPosition);
        } finally {
            exit();
        }
    }

    private void attendDenseHeld(MemorySegment keys, MemorySegment values, int tokens, MemorySegment queries, MemorySegment out,
                                 int n, int firstPosition) {
        checkCall(queries, out, n, firstPosition);
        long need = (long) tokens * shape.tokenElements() * 4;
        if (keys.byteSize() < need || values.byteSize() < need) {
            throw new IllegalArgumentException("dense keys/values need " + need + " bytes for " + tokens + " tokens");
        }
        resetTiming();
        int visibleEnd = (int) Math.min(tokens, (long) firstPosition + n);
        int ld = shape.kvHeads() * d;
        for (int h = 0; h < shape.kvHeads(); h++) {
            loadQueries(queries, n, h, null, null);
            for (int t0 = 0; t0 < visibleEnd; t0 += tileTokens) {
                int count = Math.min(visibleEnd, t0 + tileTokens) - t0;
                long base = ((long) t0 * shape.kvHeads() + h) * d * 4;
                tile(keys.asSlice(base), values.asSlice(base), ld, t0, count, count, n, firstPosition, t0 == 0);
            }
            storeOutput(out, n, h);
        }
    }

    /** One tile of {@code count} tokens starting at position {@code t0}; rows hold real tokens < valid. */
    private void tile(MemorySegment k, MemorySegment v, int ld, int t0, int count, int valid, int n,
                      int firstPosition, boolean first) {
        int rows = n * gq;
        if (count == 1) { // a one-column score tile is refused (MatmulShape: oneDNN gets it wrong): add a zero key
            MemorySegment.copy(k, 0, kTile, 0, d * 4L);
            MemorySegment.copy(v, 0, vTile, 0, d * 4L);
            MemorySegment.copy(zeros, 0, kTile, d * 4L, d * 4L);
            MemorySegment.copy(zeros, 0, vTile, d * 4L, d * 4L);
            k = kTile;
            v = vTile;
            ld = d;
            count = 2; // the second column is masked: valid <= 1
        }
        long start = System.nanoTime();
        MatmulShape qk = new MatmulShape(rows, d, count, DnnlDataType.F32, DnnlDataType.F32, DnnlDataType.F32, false, true,
                d, ld, tileTokens, (float) (1.0 / Math.sqrt(d)), 0f);
        dnnl.matmul(qk).execute(qTile, k, scores);
        matmulNanos += System.nanoTime() - start;
        start = System.nanoTime();
        softmax.rows(rows, t0, count, valid, firstPosition, first);
        softmaxNanos += System.nanoTime() - start;
        start = System.nanoTime();
        MatmulShape pv = new MatmulShape(rows, count, d, DnnlDataType.F32, DnnlDataType.F32, DnnlDataType.F32, false, false,
                tileTokens, ld, d, 1f, first ? 0f : 1f);
        dnnl.matmul(pv).execute(scores, v, outTile);
        matmulNanos += System.nanoTime() - start;
    }

    /**
     * The queries of KV head h into qTile, row r = i * gq + j for query token i and head j of the
     * group; into the key codec's row space when {@code rowCodec} is given (scale 1: the matmul
     * applies 1 / sqrt(d)).
     */
    private void loadQueries(MemorySegment queries, int n, int h, KeyCodec rowCodec, HeadStream hs) {
        for (int i = 0; i < n; i++) {
            long src = ((long) i * shape.queryHeads() + (long) h * gq) * d * 4;
            if (rowCodec == null) {
                MemorySegment.copy(queries, src, qTile, (long) i * gq * d * 4, (long) gq * d * 4);
            } else {
                MemorySegment.copy(queries, ValueLayout.JAVA_FLOAT_UNALIGNED, src, query, i * gq * d, gq * d);
            }
        }
        if (rowCodec != null) { // one batched FFTW call for all n gq rows
            rowCodec.transformQuery(query, n * gq, 1f, hs.state(), queryRows, work.scratch);
            MemorySegment.copy(queryRows, 0, qTile, ValueLayout.JAVA_FLOAT, 0, n * gq * d);
        }
    }

    private void storeOutput(MemorySegment out, int n, int h) {
        for (int r = 0; r < n * gq; r++) {
            float inv = 1f / softmax.sum(r);
            long dst = ((long) (r / gq) * shape.queryHeads() + (long) h * gq + r % gq) * d * 4;
            for (int c = 0; c < d; c++) {
                out.set(ValueLayout.JAVA_FLOAT_UNALIGNED, dst + 4L * c, outTile.get(ValueLayout.JAVA_FLOAT, ((long) r * d + c) * 4) * inv);
            }
        }
    }

    private void checkCall(MemorySegment queries, MemorySegment out, int n, int firstPosition) {
        if (n <= 0 || n > maxQueries) {
            throw new IllegalArgumentException("query count must be in [1, " + maxQueries + "], got " + n);
        }
        if (firstPosition < 0) {
            throw new IllegalArgumentException("first query position must be >= 0, got " + firstPosition);
        }
        long need = (long) n * shape.queryHeads() * d * 4;
        if (queries.byteSize() < need || out.byteSize() < need) {
            throw new IllegalArgumentException("queries and output need " + need + " bytes ([" + n + ", " + shape.queryHeads()
                    + ", " + d + "] float32), got " + queries.byteSize() + " and " + out.byteSize());
        }
    }

    /** Non-finite queries are rejected, as {@link DecodeAttention} does (they would make every output NaN). */
    private void checkFinite(int layer, MemorySegment queries, int n) {
        long count = (long) n * shape.queryHeads() * d;
        for (long i = 0; i < count; i++) {
            float v = queries.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
            if (!Float.isFinite(v)) {
                throw new IllegalArgumentException("layer " + layer + ": query token " + i / ((long) shape.queryHeads() * d)
                        + ", head " + i / d % shape.queryHeads() + ", channel " + i % d + " is not finite (" + v + ")");
            }
        }
    }

    private void resetTiming() {
        dequantizeNanos = 0;
        matmulNanos = 0;
        softmaxNanos = 0;
    }

    private void enter() {
        int witness = use.compareAndExchange(IDLE, IN_USE);
        if (witness != IDLE) {
            throw new IllegalStateException(witness == CLOSED ? "PrefillAttention is closed"
                    : "PrefillAttention is in use by another thread: create one PrefillAttention per thread "
                    + "(it owns the tiles); nothing was computed");
        }
    }

    private void exit() {
        use.set(IDLE);
    }

    /** The call's scratch: codec scratch (FFTW buffers and plans), a block of floats, the layers' key and value tiles. */
    private static final class Scratch {
        final CodecScratch scratch;
        final float[] block;
        final float[] rows;
        final KeyTile[] keyTiles;
        final ValueTile[] valueTiles;

        Scratch(KvCache cache, ModelShape shape, KernelMath math, int maxQueries) {
            int d = shape.headDim();
            this.scratch = new CodecScratch(d, 64, maxQueries);
            this.block = new float[64 * d];
            this.rows = new float[64 * d];
            this.keyTiles = new KeyTile[cache == null ? 0 : shape.layers()];
            this.valueTiles = new ValueTile[keyTiles.length];
            for (int l = 0; l < keyTiles.length; l++) {
                KeyCodec kc = CacheAccess.keyCodec(cache, l);
                keyTiles[l] = KernelProvider.keyTile(math, cache.layerConfig(l), kc, d);
                valueTiles[l] = KernelProvider.valueTile(math, cache.layerConfig(l), CacheAccess.valueCodec(cache, l), d);
                kc.prepare(scratch); // FFTW plans made here, not during the first call
            }
        }
    }

    /**
     * Frees the tiles and scratch. Idempotent; while another thread runs a call on this instance it
     * throws {@link IllegalStateException} and frees nothing (close after that call returns).
     */
    @Override
    public void close() {
        int witness = use.compareAndExchange(IDLE, CLOSED);
        if (witness == CLOSED) {
            return;
        }
        if (witness == IN_USE) {
            throw new IllegalStateException("PrefillAttention is in use by another thread: close it after that call returns "
                    + "(nothing was freed)");
        }
        try {
            work.scratch.close();
        } finally {
            try {
                arena.close();
            } finally {
                if (ownsDnnl) {
                    dnnl.close();
                }
            }
        }
    }
}
