package io.vidkv;

import io.vidkv.codec.CodecScratch;
import io.vidkv.codec.KeyCodec;
import io.vidkv.internal.CacheAccess;
import io.vidkv.internal.HeadStream;
import io.vidkv.codec.ValueCodec;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * The quantized KV cache of one sequence.
 *
 * <p>Data path: {@link #append} validates the new tokens of one layer and copies them into each KV
 * head's residual window (float32, off-heap); whenever the window holds R + G tokens the oldest G
 * are quantized by the layer's codecs into a block in a page from the {@link PagePool}. The first
 * quantization of a layer waits for R + C * G tokens (C calibration groups) and fixes the key
 * channel split and super-scales from those C groups; from then on blocks are only appended, never
 * re-quantized (the reference mode, {@link LayerConfig#referenceMode()}, follows the reference
 * code's lifecycle instead). Because the schedule depends only on token counts, appending N tokens at once or one
 * at a time produces identical bytes.
 *
 * <p>Token protection: {@link #protect} marks token positions whose values are kept at 2 bits (for
 * presets with protection). It must happen before the token's group is quantized in any layer, in
 * practice right after the prefill's text question is known and before the prefill append; marking
 * a token that is already quantized is rejected with nothing changed.
 *
 * <p>Failure policy: every argument and value is checked, and every page the append needs is
 * reserved, before anything changes; a rejected append leaves the cache exactly as it was. NaN
 * and infinite inputs are rejected (a NaN in a group would poison the whole group's scale);
 * presets that store FP16 (codes or scales) also reject magnitudes above 65504. Capacity follows
 * the {@link CapacityPolicy}: reject, or evict the layer's oldest pages (committed only once the
 * append's pages are reserved). An append is not interruptible: {@link Thread#interrupt} during it
 * lets it finish (the flag stays set for the caller), so a prefill interrupted between appends has
 * every append either entirely in the cache or not at all. If the write phase itself fails (only
 * when the caller frees the input memory during the append, or on a VM error) the sequence turns
 * unusable: every call but {@link #close} throws {@link IllegalStateException} naming the cause.
 *
 * <p>Threading: a sequence is written by one thread at a time and read only between writes;
 * different sequences are independent (their pool is thread-safe). The writes are {@link #append},
 * {@link #protect}, {@link #protectBySaliency} and {@link #close}; the reads are attention
 * ({@code DecodeAttention}, {@code PrefillAttention}) and {@link #memoryReport}, which may run on
 * several threads at once (each thread with its own attention object). The cache enforces this with
 * one atomic in-use word, without locks or allocation: a call that would overlap a write, or write
 * while attention reads, throws {@link IllegalStateException} naming what the other thread is doing
 * and changes nothing; it does not mark the sequence failed, and the cache stays usable and closable
 * (retry after the other call returns). Misuse is detected, not serialized: a caller that wants
 * several threads to feed one sequence must order the calls itself. The plain accessors
 * ({@link #tokenCount} and the like) are unguarded reads, exact from the writing thread and between
 * writes. A {@link ParallelRunner} given at creation quantizes large appends' heads in parallel
 * inside the one append ({@link #appendLayers}: the heads of several layers); it must stay open
 * while the cache appends (a closed runner makes {@code append} throw
 * {@link IllegalStateException}, nothing changed). The steady state
 * single-token append allocates nothing on the Java heap once the pool has free pages (a server's
 * pool does, from closed sequences); taking a brand-new page from native memory creates one
 * {@code MemorySegment} object per page of growth.
 */
public final class KvCache implements AutoCloseable {

    static {
        // the kernels' way in (package io.vidkv.internal is not exported): streams, codecs, read bracket
        CacheAccess.install(new CacheAccess.Accessor() {
            @Override
            public HeadStream stream(KvCache cache, int layer, int kvHead) {
                return cache.stream(layer, kvHead);
            }

            @Override
            public KeyCodec keyCodec(KvCache cache, int layer) {
                return cache.keyCodec(layer);
            }

            @Override
            public ValueCodec valueCodec(KvCache cache, int layer) {
                return cache.valueCodec(layer);
            }

            @Override
            public void beginRead(KvCache cache) {
                cache.beginRead();
            }

            @Override
            public void endRead(KvCache cache) {
                cache.endRead();
            }
        });
    }

    private final ModelShape shape;
    private final CacheConfig config;
    private final PagePool pool;
    private final boolean ownsPool;
    private final ParallelRunner runner;
    /** Where the residual windows' chunks come from: the pool's (a fork shares its parent's chunks). */
    private final WindowChunks windowChunks;
    private final LayerStore[] layers;
    private final ProtectedTokens protectedTokens;
    private final CodecScratch[] scratch;
    private final float[][] keyGroup;
    private final float[][] valueGroup;
    private final Appender appender;
    /** Who uses the sequence now: readers, one writer, or nobody; refuses overlaps (see {@link SequenceUse}). */
    private final SequenceUse use = new SequenceUse();
    /** Why the sequence is unusable (an append failed after it started writing), or null. */
    private volatile String failure;

    private KvCache(ModelShape shape, CacheConfig config, PagePool pool, boolean ownsPool, ParallelRunner runner) {
        this(shape, config, pool, ownsPool, runner, null);
    }

    /**
     * {@code calibrated}: layers that will get calibrated state (forks, restores), or null: see
     * {@link LayerStore}.
     */
    private KvCache(ModelShape shape, CacheConfig config, PagePool pool, boolean ownsPool, ParallelRunner runner,
                    boolean[] calibrated) {
        if (config.layers().size() != shape.layers()) {
            throw new IllegalArgumentException("config has " + config.layers().size() + " layers, the model " + shape.layers());
        }
        if (pool.pageBytes() != config.pageBytes()) {
            throw new IllegalArgumentException("pool pages are " + pool.pageBytes() + " bytes, config asks " + config.pageBytes());
        }
        this.shape = shape;
        this.config = config;
        this.pool = pool;
        this.ownsPool = ownsPool;
        this.runner = runner;
        this.windowChunks = pool.windowChunks(shape.headDim());
        int maxTokens = config.capacity().maxTokens();
        this.layers = new LayerStore[shape.layers()];
        int maxG = 0;
        int maxPagesPerAppend = 0;
        for (int l = 0; l < layers.length; l++) {
            LayerConfig lc = config.layer(l);
            layers[l] = new LayerStore(l, lc, shape, maxTokens, windowChunks, calibrated != null && calibrated[l]);
            if (layers[l].maxBlockBytes() > config.pageBytes()) {
                throw new IllegalArgumentException("layer " + l + ": a block of up to " + layers[l].maxBlockBytes()
                        + " bytes does not fit a page of " + config.pageBytes() + " bytes");
            }
            maxG = Math.max(maxG, lc.groupSize());
            // fresh pages for the append plus, when evicting, every page the layer held
            maxPagesPerAppend = Math.max(maxPagesPerAppend, (maxTokens / lc.groupSize() + 2) * shape.kvHeads()
                    * (config.capacity().evicts() ? 2 : 1));
        }
        this.protectedTokens = new ProtectedTokens(maxTokens);
        int workers = runner == null ? 1 : runner.threads();
        this.scratch = new CodecScratch[workers];
        this.keyGroup = new float[workers][];
        this.valueGroup = new float[workers][];
        for (int w = 0; w < workers; w++) {
            scratch[w] = new CodecScratch(shape.headDim(), maxG, shape.queriesPerKvHead());
            keyGroup[w] = new float[maxG * shape.headDim()];
            valueGroup[w] = new float[maxG * shape.headDim()];
        }
        this.appender = new Appender(shape, config, pool, runner, layers, protectedTokens, scratch, keyGroup, valueGroup,
                maxPagesPerAppend);
        for (LayerStore ls : layers) {
            for (CodecScratch s : scratch) {
                ls.keyCodec.prepare(s);
            }
        }
    }

    /**
     * A sequence with its own page pool sized for the configured capacity, appending on the calling
     * thread only.
     *
     * @param shape  the model: layers, query heads, KV heads, head dimension
     * @param config one {@link LayerConfig} per layer, the page size and the capacity
     * @return an empty sequence; close it to free its native memory
     * @throws IllegalArgumentException if {@code config} does not fit {@code shape} (layer count, a
     *                                  block larger than a page, an unsupported codec setting)
     */
    public static KvCache create(ModelShape shape, CacheConfig config) {
        return create(shape, config, null);
    }

    /**
     * A sequence with its own page pool sized for the configured capacity.
     *
     * @param shape  the model: layers, query heads, KV heads, head dimension
     * @param config one {@link LayerConfig} per layer, the page size and the capacity
     * @param runner splits large appends (a prefill) across KV heads; may be null (calling thread only).
     *               It must stay open while the cache appends.
     * @return an empty sequence; close it to free its native memory
     * @throws IllegalArgumentException if {@code config} does not fit {@code shape}
     */
    public static KvCache create(ModelShape shape, CacheConfig config, ParallelRunner runner) {
        PagePool pool = new PagePool(config.pageBytes(), pagesPerSequence(shape, config));
        pool.addHolder(0);
        return new KvCache(shape, config, pool, true, runner);
    }

    /**
     * A sequence drawing pages from a pool shared with other sequences (many sequences of one model
     * under one memory budget). Closing the sequence returns its pages to the pool, not to the system.
     *
     * @param shape  the model: layers, query heads, KV heads, head dimension
     * @param config one {@link LayerConfig} per layer, the page size (equal to the pool's) and the capacity
     * @param pool   the shared pool; it must outlive the sequence
     * @param runner splits large appends across KV heads; may be null (calling thread only)
     * @return an empty sequence
     * @throws IllegalArgumentException if {@code config} does not fit {@code shape} or the pool's page size
     */
    public static KvCache create(ModelShape shape, CacheConfig config, PagePool pool, ParallelRunner runner) {
        return new KvCache(shape, config, pool, false, runner);
    }

    /**
     * A new sequence that shares every quantized block of this one: it references this sequence's
     * pages (no block bytes are copied) and the chunks of its residual windows (no window bytes
     * are copied either), and copies only the per-head state (channel split, super-scales), the
     * protected positions and the counts. The fork attends
     * exactly as this sequence does now, bit for bit; from then on both append, attend, evict and
     * close independently, each on its own thread if wanted, drawing new pages from the same pool.
     * A page goes back to the pool when the last sequence referencing it releases it (close, or
     * eviction under {@link CapacityPolicy.OnFull#EVICT_OLDEST}, which never frees or reuses a page
     * another sequence still references). Shared pages are never written again: the partly filled
     * last page of every head is sealed on both sides, so each side's next block opens a page of its
     * own; likewise each side's new window tokens go into window chunks of its own. A sequence with
     * a pool of its own ({@link #create(ModelShape, CacheConfig)}) shares that pool with its forks;
     * it grows by one sequence's pages per fork and closes with the last of them.
     *
     * <p>Forking is a read of this sequence: it may run while other threads attend or fork it, and is
     * refused ({@link IllegalStateException}, nothing changed) while one appends to it. It costs one
     * reference per page and per window chunk and a copy of the directories, independent of the
     * prefix length beyond the capacity's directories.
     *
     * @return the new sequence, with the same shape, configuration, pool and runner; close it
     * @throws IllegalStateException if the cache is closed or failed, another thread writes it, its
     *                               pool is closed, or a layer is in the reference mode (its flushes
     *                               re-quantize shared blocks in place)
     */
    public KvCache fork() {
        beginRead("fork");
        try {
            return SequenceFork.fork(this);
        } finally {
            endRead();
        }
    }

    /**
     * Writes this sequence to {@code file} in the snapshot format (every offset stated in the
     * internal class {@code SnapshotFormat} and in the README's "Snapshots"): shape, every layer's configuration, protected positions, per-head
     * state, residual windows, block directory and pages, with a CRC32C per section. The write is
     * atomic: a temporary file in the same directory, forced to disk, then renamed over {@code file}
     * (a sequence mapped from the old file keeps reading the old contents). Saving is a read of the
     * sequence (refused while another thread appends to it); it allocates a few heap objects per head.
     *
     * @param file where to write; its directory must exist and be writable
     * @throws IOException           if writing fails (nothing is left at {@code file} but what was there)
     * @throws IllegalStateException if the cache is closed or failed, or another thread writes it
     */
    public void saveTo(Path file) throws IOException {
        beginRead("save a snapshot");
        try {
            SnapshotWriter.write(this, file);
        } finally {
            endRead();
        }
    }

    /**
     * Opens a snapshot written by {@link #saveTo} as a new sequence on {@code pool}. The file must be
     * for {@code shape} and have exactly the layer configurations and page size of {@code config};
     * the capacity is {@code config}'s (it must hold the snapshot's tokens and protected positions).
     * The restored sequence attends bit for bit as the saved one did when it was saved, can be
     * appended to (new blocks go into pool pages), forked and saved again.
     *
     * <p>{@link SnapshotMode#MAPPED}: the file is mapped read-only and its blocks are attended in
     * place; the mapping lives until the last sequence referencing one of its pages (the restored one
     * or a fork of it) releases it. Every checksum is verified at open, so a file changed on disk in
     * place after that is not noticed: attention then reads the changed bytes (vidkv's own writer
     * never changes a file in place: it renames a new file over it, which leaves a mapping of the old
     * one intact); a file truncated under a mapping makes decode and prefill attention over the
     * missing part fail with the JVM's {@code InternalError} for a fault in a mapped access (the
     * kernels never load vectors straight from pages, which would crash the JVM instead): do not
     * truncate or rewrite a mapped snapshot file. {@link SnapshotMode#LOADED}: the
     * pages are copied into pool pages and the file is closed before this returns.
     *
     * @param file   the snapshot
     * @param shape  the model shape the caller expects the file to be for
     * @param config the configuration the caller expects (layers, page size) and its capacity
     * @param pool   the pool new pages (and LOADED pages) come from, its page size {@code config}'s;
     *               null for a pool of the sequence's own
     * @param runner splits large appends across KV heads; may be null
     * @param mode   mapped in place or loaded into the pool
     * @return the restored sequence; close it
     * @throws IOException                if the file cannot be read
     * @throws SnapshotFormatException    if the file is truncated, corrupted, of another format or
     *                                    version, or for another shape or configuration (the message
     *                                    names the file and the section); nothing is allocated first
     * @throws CapacityExceededException  if LOADED needs more pages than the pool has free
     * @throws IllegalStateException      if the pool is closed, or MAPPED with a reference-mode layer
     */
    public static KvCache openSnapshot(Path file, ModelShape shape, CacheConfig config, PagePool pool,
                                       ParallelRunner runner, SnapshotMode mode) throws IOException {
        return SnapshotRestore.open(file, shape, config, pool, runner, mode);
    }

    /**
     * A new empty sequence with this one's shape, configuration, pool and runner (for forks and
     * restores). An own pool gains one sequence's page budget and one holder.
     */
    KvCache emptySibling() {
        boolean[] calibrated = new boolean[layers.length];
        for (int l = 0; l < layers.length; l++) {
            calibrated[l] = layers[l].calibrated;
        }
        if (ownsPool) {
            pool.addHolder(pagesPerSequence(shape, config));
        }
        return new KvCache(shape, config, pool, ownsPool, runner, calibrated);
    }

    /**
     * An empty sequence to restore a snapshot into: as {@link #create(ModelShape, CacheConfig, PagePool,
     * ParallelRunner)} ({@code pool} null: a pool of its own), with the windows of the layers
     * {@code calibrated} marks sized for calibrated state.
     */
    static KvCache emptyForRestore(ModelShape shape, CacheConfig config, PagePool pool, ParallelRunner runner,
                                   boolean[] calibrated) {
        if (pool != null) {
            return new KvCache(shape, config, pool, false, runner, calibrated);
        }
        PagePool own = new PagePool(config.pageBytes(), pagesPerSequence(shape, config));
        own.addHolder(0);
        return new KvCache(shape, config, own, true, runner, calibrated);
    }

    /** Pages one sequence of this configuration may hold: an own pool's size. */
    static int pagesPerSequence(ModelShape shape, CacheConfig config) {
        long blocks = 0;
        for (LayerConfig lc : config.layers()) {
            blocks += (long) (config.capacity().maxTokens() / lc.groupSize() + 2) * shape.kvHeads();
        }
        return (int) Math.min(Integer.MAX_VALUE - 8, blocks);
    }

    LayerStore[] layerStores() {
        return layers;
    }

    ProtectedTokens protectedTokens() {
        return protectedTokens;
    }

    /**
     * The model shape the sequence was created for.
     *
     * @return the shape
     */
    public ModelShape shape() {
        return shape;
    }

    /**
     * The configuration the sequence was created with.
     *
     * @return the configuration
     */
    public CacheConfig config() {
        return config;
    }

    /**
     * Tokens appended to {@code layer} so far: the next token's position (evicted ones included).
     *
     * @param layer the layer, {@code 0 <= layer < shape().layers()}
     * @return the token count
     * @throws IllegalArgumentException if {@code layer} is out of range
     * @throws IllegalStateException    if the cache is closed or failed
     */
    public int tokenCount(int layer) {
        return layer(layer).tokens;
    }

    /**
     * Position of the oldest token {@code layer} still holds: 0 unless the capacity policy evicted
     * pages; attention sees positions [firstRetainedToken, tokenCount).
     *
     * @param layer the layer, {@code 0 <= layer < shape().layers()}
     * @return the first retained position
     * @throws IllegalArgumentException if {@code layer} is out of range
     */
    public int firstRetainedToken(int layer) {
        return layer(layer).evictedTokens;
    }

    /**
     * Tokens {@code layer} holds now.
     *
     * @param layer the layer, {@code 0 <= layer < shape().layers()}
     * @return {@code tokenCount(layer) - firstRetainedToken(layer)}
     * @throws IllegalArgumentException if {@code layer} is out of range
     */
    public int retainedTokenCount(int layer) {
        LayerStore ls = layer(layer);
        return ls.tokens - ls.evictedTokens;
    }

    /**
     * Tokens of {@code layer} quantized into blocks so far (evicted ones included); the rest of the
     * layer's tokens are in the residual window at full precision.
     *
     * @param layer the layer, {@code 0 <= layer < shape().layers()}
     * @return the quantized token count, a multiple of the layer's group size
     * @throws IllegalArgumentException if {@code layer} is out of range
     */
    public int quantizedTokenCount(int layer) {
        return layer(layer).quantizedTokens;
    }

    /** The residual-window chunks this sequence takes from its pool (tests). */
    WindowChunks windowChunks() {
        return windowChunks;
    }

    /** The stream of (layer, kvHead), for the attention kernels (through {@link CacheAccess}) and tests. */
    HeadStore stream(int layer, int kvHead) {
        LayerStore ls = layer(layer);
        if (kvHead < 0 || kvHead >= shape.kvHeads()) {
            throw new IllegalArgumentException("KV head " + kvHead + " out of range [0, " + shape.kvHeads() + ")");
        }
        return ls.heads[kvHead];
    }

    /**
     * Reads back what (layer, kvHead) holds, dequantized to floats: the retained tokens in position
     * order (row 0 is {@link #firstRetainedToken(int)}), keys in channel space. For debugging and
     * evaluation; it allocates, the decode path never calls it.
     *
     * @param layer  the layer, {@code 0 <= layer < shape().layers()}
     * @param kvHead the KV head, {@code 0 <= kvHead < shape().kvHeads()}
     * @return the dequantized keys and values
     * @throws IllegalArgumentException if layer or kvHead is out of range
     * @throws IllegalStateException    if the cache is closed
     */
    public DequantizedHead dequantize(int layer, int kvHead) {
        beginRead("read back a head");
        try {
            HeadStore hs = stream(layer, kvHead);
            LayerStore ls = layer(layer);
            return DequantizedHead.read(layer, kvHead, hs, ls.keyCodec, ls.valueCodec, shape.headDim(),
                    ls.config.groupSize(), shape.queriesPerKvHead());
        } finally {
            endRead();
        }
    }

    KeyCodec keyCodec(int layer) {
        return layer(layer).keyCodec;
    }

    ValueCodec valueCodec(int layer) {
        return layer(layer).valueCodec;
    }

    /**
     * How {@code layer} is stored.
     *
     * @param layer the layer, {@code 0 <= layer < shape().layers()}
     * @return the layer's configuration
     * @throws IllegalArgumentException if {@code layer} is out of range
     */
    public LayerConfig layerConfig(int layer) {
        return layer(layer).config;
    }

    /**
     * The preset id of the layer's configuration, or "custom" (for reports and JFR events).
     *
     * @param layer the layer, {@code 0 <= layer < shape().layers()}
     * @return the name
     */
    public String layerName(int layer) {
        return layer(layer).name;
    }

    /**
     * Whether token {@code position} is protected (its values kept at 2 bits where the layer stores
     * protected tokens).
     *
     * @param position a token position
     * @return true if {@link #protect} marked it
     */
    public boolean isProtected(int position) {
        return protectedTokens.contains(position);
    }

    /** Bit t of the result: token {@code first + t} is protected ({@code count} at most 64). */
    long protectedMask(int first, int count) {
        return protectedTokens.mask(first, count);
    }

    /**
     * Marks token positions as protected (semantic token protection, METHOD.md section 3): their
     * values are stored at 2 bits by the layers whose {@link ValueSpec} keeps protected tokens. Mark
     * them before their group is quantized in any layer, in practice before the prefill append. All
     * positions are checked first; nothing changes if one is rejected.
     *
     * @param positions token positions in {@code [0, capacity)}
     * @throws IllegalArgumentException if a position is out of range
     * @throws IllegalStateException    if a position is already quantized in some layer, if no layer
     *                                  stores protected tokens (marking would do nothing), if the
     *                                  cache is closed or failed, or another thread uses it
     */
    public void protect(int... positions) {
        beginWrite(SequenceUse.PROTECT, -1, "protect");
        try {
            protectUnguarded(positions);
        } finally {
            endWrite();
        }
    }

    private void protectUnguarded(int... positions) {
        checkOpen();
        protectedTokens.protect(positions, layers);
    }

    /**
     * Protects the top fraction {@code p} of tokens by saliency: {@code scores[i]} scores the token
     * at position {@code first + i} (see {@link TokenSaliency}). Same rules as {@link #protect}; a
     * fraction that selects no token marks nothing and is not an error.
     *
     * @param first  the position of {@code scores[0]} (e.g. the first visual token)
     * @param scores one score per token, higher is more salient
     * @param p      the fraction to protect, in {@code [0, 1]}
     * @throws IllegalArgumentException if {@code p} is out of range or a position is
     * @throws IllegalStateException    as for {@link #protect}
     */
    public void protectBySaliency(int first, float[] scores, double p) {
        protect(TokenSaliency.topFraction(scores, first, p));
    }

    /**
     * Appends {@code tokenCount} tokens to {@code layer}: they enter the residual window, and every
     * group of G tokens that leaves it is quantized into a block. Either all of the append is in the
     * cache or (on an exception) none of it.
     *
     * @param layer      the layer, {@code 0 <= layer < shape().layers()}
     * @param keys       {@code [tokenCount][kvHeads][headDim]} elements of {@code type}, densely
     *                   packed, after RoPE, any memory (heap segments included) the runner's threads
     *                   may read
     * @param values     the same shape and type as {@code keys}
     * @param tokenCount tokens to append, at least 1
     * @param type       the element type of {@code keys} and {@code values}
     *
     * @throws IllegalArgumentException   bad layer, sizes or values (NaN, infinite, out of FP16 range)
     * @throws CapacityExceededException  past the sequence's capacity or the pool's pages
     * @throws IllegalStateException      the cache is closed or failed, its runner or pool is closed, or
     *                                    another thread is writing or reading it (nothing changed, the
     *                                    cache not failed)
     */
    public void append(int layer, MemorySegment keys, MemorySegment values, int tokenCount, InputType type) {
        beginWrite(SequenceUse.APPEND, layer, "append");
        try {
            checkOpen();
            if (appender.prepare(layer, keys, values, tokenCount, type)) {
                write(tokenCount, layer, 1);
            }
        } finally {
            endWrite();
        }
    }

    /**
     * Appends {@code tokenCount} tokens to each of the layers {@code firstLayer .. firstLayer +
     * keys.length - 1}, as many {@link #append} calls would, with the same bytes, but as one append:
     * every layer's arguments and values are checked and every layer's pages reserved before anything
     * changes, so either all of it is in the cache or (on an exception) none of it; and the (layer, KV
     * head) items share the runner, so a prefill of several layers keeps every thread busy even where
     * a layer has fewer KV heads than the runner has threads. For a prefill whose keys and values of
     * several layers are ready at once (a restored or imported prefill, an engine that hands over all
     * layers); a model that computes one layer after the other appends each as it comes.
     *
     * @param firstLayer the first layer, {@code 0 <= firstLayer}, {@code firstLayer + keys.length <= shape().layers()}
     * @param keys       per layer, {@code [tokenCount][kvHeads][headDim]} elements of {@code type}
     *                   (as for {@link #append}); at least one layer
     * @param values     per layer, the same shape and type as {@code keys}; as many as {@code keys}
     * @param tokenCount tokens to append to each layer, at least 1
     * @param type       the element type of every segment
     *
     * @throws IllegalArgumentException  as for {@link #append}, naming the layer; the arrays' lengths differ or are 0
     * @throws CapacityExceededException as for {@link #append}, for any of the layers
     * @throws IllegalStateException     as for {@link #append}
     */
    public void appendLayers(int firstLayer, MemorySegment[] keys, MemorySegment[] values, int tokenCount, InputType type) {
        if (keys == null || values == null || keys.length != values.length || keys.length == 0) {
            throw new IllegalArgumentException("appendLayers needs as many key as value segments, at least one: got "
                    + (keys == null ? "null" : keys.length) + " and " + (values == null ? "null" : values.length));
        }
        beginWrite(SequenceUse.APPEND, firstLayer, "append");
        try {
            checkOpen();
            if (appender.prepare(firstLayer, keys, values, keys.length, tokenCount, type)) {
                write(tokenCount, firstLayer, keys.length);
            }
        } finally {
            endWrite();
        }
    }

    /** The prepared append's write phase; past validation and reservation a failure leaves the sequence unusable. */
    private void write(int tokenCount, int firstLayer, int layerCount) {
        try {
            appender.write();
        } catch (Throwable t) {
            // Nothing is expected to fail here; if something does (the caller freed the input memory
            // during the append, a VM error) the layers may be half written, so the sequence refuses
            // further use instead of serving corrupt attention.
            failure = "an append of " + tokenCount + " tokens to layer " + firstLayer
                    + (layerCount > 1 ? " (and the " + (layerCount - 1) + " after it)" : "") + " failed while writing (" + t + ")";
            throw t;
        } finally {
            appender.release();
        }
    }

    private LayerStore layer(int layer) {
        checkOpen();
        if (layer < 0 || layer >= layers.length) {
            throw new IllegalArgumentException("layer " + layer + " out of range [0, " + layers.length + ")");
        }
        return layers[layer];
    }

    /**
     * Brackets a read of the sequence from outside it: the attention kernels call this (through
     * {@link CacheAccess}) before they walk {@link #stream} and {@link #endRead} after. Reads may
     * overlap each other; a read that would overlap a write (append, protect, close) throws
     * {@link IllegalStateException} here and holds nothing. Allocates nothing.
     *
     * @throws IllegalStateException the cache is closed or failed, or another thread is writing it
     */
    void beginRead() {
        beginRead("attend");
    }

    private void beginRead(String attempted) {
        use.beginRead(attempted);
        if (failure != null) { // a half-written sequence never serves a read
            endRead();
            checkOpen();
        }
    }

    /**
     * Ends a read begun by {@link #beginRead} (call it in a {@code finally}).
     *
     * @throws IllegalStateException no read is in progress
     */
    void endRead() {
        use.endRead();
    }

    private void beginWrite(int op, int layer, String attempted) {
        use.beginWrite(op, layer, layers.length, attempted);
    }

    private void endWrite() {
        use.endWrite();
    }

    private void checkOpen() {
        if (use.isClosed()) {
            throw new IllegalStateException("KvCache is closed");
        }
        if (failure != null) {
            throw new IllegalStateException("KvCache is unusable: " + failure + "; close it (close returns every page)");
        }
    }

    /**
     * Whether an append failed after it started writing (a VM error, input memory freed under it), so
     * every call but {@link #close} throws.
     *
     * @return true if the sequence is unusable
     */
    public boolean isFailed() {
        return failure != null;
    }

    /**
     * Bytes and bits held now: effective and nominal bits per element, block, metadata and window bytes.
     *
     * @return the report
     * @throws IllegalStateException if the cache is closed, failed, or being written by another thread
     */
    public MemoryReport memoryReport() {
        beginRead("read the memory report");
        try {
            return MemoryReport.of(this, layers, shape, config);
        } finally {
            endRead();
        }
    }

    /**
     * Returns every page to the pool and frees the residual windows, also after a failure
     * ({@link #isFailed}). Idempotent: a second close does nothing. Closing is a write: while another
     * thread appends to or attends the sequence it throws {@link IllegalStateException} and changes
     * nothing, so that thread's call completes and the caller closes after it returns.
     */
    @Override
    public void close() {
        if (!use.beginClose()) {
            return; // closed already
        }
        // Every step runs even if an earlier one throws, so that nothing is left unreleased.
        try {
            int released = 0;
            for (LayerStore ls : layers) {
                for (HeadStore hs : ls.heads) {
                    released += hs.pageCount();
                    hs.release();
                }
            }
            pool.recordRelease(released);
        } finally {
            try {
                for (CodecScratch s : scratch) {
                    s.close();
                }
            } finally {
                use.markClosed();
                if (ownsPool) {
                    pool.releaseHolder(); // forks of this sequence keep an own pool open
                }
            }
        }
    }

    /**
     * Whether {@link #close} has run.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return use.isClosed();
    }

    /**
     * The pool this sequence draws pages from (its own, or the one shared at creation).
     *
     * @return the pool
     */
    public PagePool pagePool() {
        return pool;
    }
}
