package io.vidkv;


/**
 * Everything that decides how one layer's cache is stored: a {@link KeySpec}, a {@link ValueSpec},
 * the group size G, the residual window R, the calibration groups C and the {@link MetadataFormat}.
 * {@link Preset#layerConfig()} gives the named ones; {@link CacheConfig} holds one per layer.
 *
 * <p>Lifecycle (METHOD.md section 4): each KV head's newest R tokens stay in a float32 residual
 * window; whenever it holds R + G tokens, the oldest G are quantized into one block that is never
 * re-quantized. The first quantization waits for R + C x G tokens and calibrates on those C
 * groups. The reference mode ({@link #referenceMode()}) follows the reference code's lifecycle
 * instead.
 *
 * <p>Some combinations are only rejected when the cache is created ({@link KvCache#create} throws
 * {@code IllegalArgumentException}): uniform bits other than 1, 2, 3, 4 or 8, a ternary gamma
 * outside [0, 10), {@link KeySpec#splitPerGroup()} with {@link MetadataFormat#COMPACT8}, and a
 * block larger than a page.
 *
 * @param keys              key storage
 * @param values            value storage
 * @param groupSize         G: tokens per quantized block, a multiple of 8 in [8, 64] (a block's
 *                          token bit rows are whole bytes, and its protected tokens one 64-bit
 *                          mask); default {@link #DEFAULT_GROUP}. Larger G means less metadata per
 *                          element but coarser scales
 * @param residual          R: newest tokens kept in full precision (float32), at least 0; default
 *                          {@link #DEFAULT_RESIDUAL}. Attention over them is exact
 * @param calibrationGroups C, at least 1: groups whose tokens fix the channel split and super-scales;
 *                          the first quantization waits until R + this many groups are buffered,
 *                          then the split is frozen for the layer's lifetime (METHOD.md section 7);
 *                          default {@link #DEFAULT_CALIBRATION_GROUPS}
 * @param metadata          precision of scales and zero points
 */
public record LayerConfig(KeySpec keys, ValueSpec values, int groupSize, int residual, int calibrationGroups,
                          MetadataFormat metadata) {

    /** Default group size G, in tokens: the paper's 32. */
    public static final int DEFAULT_GROUP = 32;
    /** Default residual window R, in tokens: the paper's 128. */
    public static final int DEFAULT_RESIDUAL = 128;
    /** Default calibration groups C: the split is chosen from the first 4 x G tokens quantized. */
    public static final int DEFAULT_CALIBRATION_GROUPS = 4;

    /**
     * Checks the ranges above.
     *
     * @param keys              key storage, not null
     * @param values            value storage, not null
     * @param groupSize         G, a multiple of 8 in [8, 64]
     * @param residual          R, at least 0
     * @param calibrationGroups C, at least 1
     * @param metadata          metadata format, not null
     * @throws IllegalArgumentException if a field is null or out of range, or R + C x G exceeds
     *                                  {@link #MAX_WINDOW}
     */
    public LayerConfig {
        if (keys == null || values == null || metadata == null) {
            throw new IllegalArgumentException("layer config fields must not be null");
        }
        if (groupSize < 8 || groupSize > 64 || groupSize % 8 != 0) {
            throw new IllegalArgumentException("group size G must be a multiple of 8 in [8, 64], got " + groupSize);
        }
        if (residual < 0) {
            throw new IllegalArgumentException("residual window R must be >= 0, got " + residual);
        }
        if (calibrationGroups < 1) {
            throw new IllegalArgumentException("calibrationGroups must be >= 1, got " + calibrationGroups);
        }
        if ((long) residual + (long) calibrationGroups * groupSize > MAX_WINDOW) {
            throw new IllegalArgumentException("residual window R + calibrationGroups x G must be at most " + MAX_WINDOW
                    + " tokens, got " + residual + " + " + calibrationGroups + " x " + groupSize);
        }
    }

    /**
     * Most tokens the residual window may hold (R + C x G); bounds the window's int arithmetic
     * (token thresholds, slots x headDim) far from overflow.
     */
    public static final int MAX_WINDOW = 1 << 20;

    /**
     * This configuration with another group size.
     *
     * @param g G, a multiple of 8 in [8, 64]
     * @return a new configuration
     * @throws IllegalArgumentException if {@code g} is out of range or R + C x G exceeds {@link #MAX_WINDOW}
     */
    public LayerConfig withGroupSize(int g) {
        return new LayerConfig(keys, values, g, residual, calibrationGroups, metadata);
    }

    /**
     * This configuration with another residual window.
     *
     * @param r R in tokens, at least 0
     * @return a new configuration
     * @throws IllegalArgumentException if {@code r < 0} or R + C x G exceeds {@link #MAX_WINDOW}
     */
    public LayerConfig withResidual(int r) {
        return new LayerConfig(keys, values, groupSize, r, calibrationGroups, metadata);
    }

    /**
     * This configuration with another number of calibration groups.
     *
     * @param c C, at least 1
     * @return a new configuration
     * @throws IllegalArgumentException if {@code c < 1} or R + C x G exceeds {@link #MAX_WINDOW}
     */
    public LayerConfig withCalibrationGroups(int c) {
        return new LayerConfig(keys, values, groupSize, residual, c, metadata);
    }

    /**
     * This configuration with another key storage.
     *
     * @param k the key spec
     * @return a new configuration
     * @throws IllegalArgumentException if {@code k} is null
     */
    public LayerConfig withKeys(KeySpec k) {
        return new LayerConfig(k, values, groupSize, residual, calibrationGroups, metadata);
    }

    /**
     * This configuration with another value storage.
     *
     * @param v the value spec
     * @return a new configuration
     * @throws IllegalArgumentException if {@code v} is null
     */
    public LayerConfig withValues(ValueSpec v) {
        return new LayerConfig(keys, v, groupSize, residual, calibrationGroups, metadata);
    }

    /**
     * Nominal bits per element, keys and values averaged (the paper's counting: codes only, no
     * metadata). {@link MemoryReport} gives the effective bits.
     *
     * @return {@code (keys().nominalBits() + values().nominalBits()) / 2}, e.g. 1.54 for
     *         {@code vidkv-1.5/1.58}
     */
    public double nominalBits() {
        return (keys.nominalBits() + values.nominalBits()) / 2;
    }

    /**
     * Bytes of the largest block of one KV head (G tokens of keys and values, every token protected
     * where the values keep protected tokens), metadata included: what a page must hold at least, and
     * with {@code tokens / G} blocks per KV head and layer, the quantized part of a cache for
     * {@code tokens} tokens.
     *
     * @param headDim channels per head
     * @return the block size in bytes
     * @throws IllegalArgumentException if this configuration does not support {@code headDim}
     */
    public long maxBlockBytes(int headDim) {
        return io.vidkv.codec.Codecs.keys(this, headDim).blockBytes()
                + io.vidkv.codec.Codecs.values(this, headDim).blockBytes(groupSize);
    }

    /**
     * Most tokens the residual window holds, reached just before the first quantization. Each KV
     * head's window grows to this many float32 tokens (keys and values) in chunks as tokens arrive,
     * and holds at most R + G - 1 once calibrated.
     *
     * @return R + C x G, in tokens
     */
    public int windowCapacity() {
        return residual + calibrationGroups * groupSize;
    }

    /**
     * Reference mode (METHOD.md section 6), the public reference code's lifecycle for comparison
     * only: the layer's first append is its prefill, which quantizes all but its last N mod G
     * tokens with one key channel split for the whole layer, chosen by range over every KV head and
     * every token quantized (C is not used). Every later token is a decode step: it joins the
     * residual window, and when the window holds {@link #referenceFlushTokens()} tokens the
     * layer's whole cache (every block dequantized, and the window) is split again and quantized
     * again, and the window is emptied. So an append of n tokens after the prefill equals n appends
     * of one token, but the prefill is the first append, whatever its size.
     *
     * @return whether the keys are {@link KeySpec.Kind#REFERENCE}
     */
    public boolean referenceMode() {
        return keys.kind() == KeySpec.Kind.REFERENCE;
    }

    /**
     * Reference mode: the window size at which the layer is quantized again, R rounded up to whole
     * groups (at least one). The reference code flushes when its residual reaches R and needs R to
     * be a multiple of G (it fails otherwise), so for such R this is R.
     *
     * @return {@code max(1, ceil(R / G)) x G}, in tokens
     */
    public int referenceFlushTokens() {
        return Math.max(1, (residual + groupSize - 1) / groupSize) * groupSize;
    }

    /**
     * Whether anything stored is FP16 (codes or metadata), so inputs must fit the FP16 range.
     * COMPACT8 metadata counts: its per-row super-scales are FP16 (and larger magnitudes overflow the
     * float32 softmax accumulation).
     */
    boolean needsFp16Range() {
        return keys.kind() == KeySpec.Kind.FP16 || values.kind() == ValueSpec.Kind.FP16 || metadata == MetadataFormat.FP16
                || metadata == MetadataFormat.COMPACT8;
    }
}
