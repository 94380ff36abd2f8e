package io.vidkv;


/**
 * Everything that decides how one layer's cache is stored.
 *
 * @param keys              key storage
 * @param values            value storage
 * @param groupSize         G: tokens per quantized block (multiple of 8, at most 64)
 * @param residual          R: newest tokens kept in full precision
 * @param calibrationGroups groups whose tokens fix the channel split and super-scales; the first
 *                          quantization waits until R + this many groups are buffered, then the
 *                          split is frozen for the layer's lifetime (METHOD.md section 7)
 * @param metadata          precision of scales and zero points
 */
public record LayerConfig(KeySpec keys, ValueSpec values, int groupSize, int residual, int calibrationGroups,
                          MetadataFormat metadata) {

    public static final int DEFAULT_GROUP = 32;
    public static final int DEFAULT_RESIDUAL = 128;
    public static final int DEFAULT_CALIBRATION_GROUPS = 4;

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

    public LayerConfig withGroupSize(int g) {
        return new LayerConfig(keys, values, g, residual, calibrationGroups, metadata);
    }

    public LayerConfig withResidual(int r) {
        return new LayerConfig(keys, values, groupSize, r, calibrationGroups, metadata);
    }

    public LayerConfig withCalibrationGroups(int c) {
        return new LayerConfig(keys, values, groupSize, residual, c, metadata);
    }

    public LayerConfig withKeys(KeySpec k) {
        return new LayerConfig(k, values, groupSize, residual, calibrationGroups, metadata);
    }

    public LayerConfig withValues(ValueSpec v) {
        return new LayerConfig(keys, v, groupSize, residual, calibrationGroups, metadata);
    }

    /** Nominal bits per element, keys and values averaged (the paper's counting). */
    public double nominalBits() {
        return (keys.nominalBits() + values.nominalBits()) / 2;
    }

    /** Most tokens the residual buffer holds before the first quantization. */
    public int windowCapacity() {
        return residual + calibrationGroups * groupSize;
    }

    /**
     * Reference mode (METHOD.md section 6): after an append that is not the first quantization, every
     * time the quantized length crosses a multiple of {@link #REFERENCE_FLUSH} tokens the layer's whole
     * cache is dequantized, re-calibrated and quantized again, as the reference code does.
     */
    public boolean referenceMode() {
        return keys.kind() == KeySpec.Kind.REFERENCE;
    }

    /** Tokens between the reference code's re-quantizations. */
    public static final int REFERENCE_FLUSH = 128;

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
