package io.vidkv;


/**
 * How a layer's keys are stored (part of a {@link LayerConfig}). Make one with the factories
 * {@link #fp16()}, {@link #uniform(int, QuantAxis)}, {@link #vidkv(double)} or
 * {@link #reference(double)} and adjust it with the {@code with...} methods; each field applies to
 * the kinds named in its description and is ignored by the others.
 *
 * @param kind     FP16, UNIFORM (k-bit min/max), VIDKV (anomalous 2-bit + spectral 1-bit) or
 *                 REFERENCE (the reference code's keys)
 * @param bits     UNIFORM: bits per code, 1, 2, 3, 4 or 8 (checked when the cache is created)
 * @param axis     UNIFORM: parameter sharing; per-token keys are scored through the codec's
 *                 dequantizer, not the fused bit-plane kernel
 * @param keyBits  VIDKV and REFERENCE: nominal key bits in [1, 2]; the top
 *                 {@code round((keyBits - 1) * d)} channels are anomalous (1.5 at d = 128: 64)
 * @param split    VIDKV: channel ranking for the split
 * @param spectral VIDKV: sign-quantize the normal channels' DFT (true, the default) or the
 *                 channels themselves (the paper's "without FFT" ablation)
 * @param fit           UNIFORM: how scale and zero point are chosen ({@link ParameterFit#MIN_MAX} in
 *                      the factories)
 * @param splitPerGroup VIDKV: choose the anomalous channels anew for every block (stored in the block
 *                 as a d-bit mask) instead of freezing the split at calibration. Costs d bits per block
 *                 (0.03 bits per key element at d = 128, G = 32) and, at decode time, one query FFT
 *                 per block and query head instead of one per step; it adapts to drifting outlier
 *                 channels, which the frozen split cannot.
 */
public record KeySpec(Kind kind, int bits, QuantAxis axis, double keyBits, SplitMetric split, boolean spectral,
                      boolean splitPerGroup, ParameterFit fit) {

    /** The key storage families. */
    public enum Kind {
        /** Keys as IEEE halves, 16 bits per element: no quantization. */
        FP16,
        /** k-bit asymmetric min/max codes (scale = (max - min) / (2^k - 1), zero = min) along an axis. */
        UNIFORM,
        /**
         * VidKV: anomalous channels 2-bit min/max per channel, normal channels as spectral codes (one
         * sign bit per real DFT component, scale = mean |component| per group, reconstructed as +-s).
         */
        VIDKV,
        /**
         * The public reference code's keys, for comparison only (METHOD.md section 6): complex FFT,
         * 2n bits for n normal channels, {0, +s} reconstruction, one split per layer and the
         * reference code's re-quantization ({@link LayerConfig#referenceMode()}).
         */
        REFERENCE
    }

    /**
     * Checks the spec.
     *
     * @param kind          the storage family, not null
     * @param bits          UNIFORM: bits per code
     * @param axis          UNIFORM: parameter sharing, not null
     * @param keyBits       VIDKV and REFERENCE: nominal key bits in [1, 2]
     * @param split         VIDKV: channel ranking, not null
     * @param spectral      VIDKV: DFT the normal channels before sign quantization
     * @param splitPerGroup VIDKV: a new channel split per block instead of a frozen one
     * @param fit           UNIFORM: how scale and zero point are chosen, not null
     * @throws IllegalArgumentException if {@code kind}, {@code axis}, {@code split} or {@code fit} is null, or
     *                                  {@code keyBits} is outside [1, 2] (or NaN) for VIDKV and
     *                                  REFERENCE
     */
    public KeySpec {
        if (kind == null || axis == null || split == null || fit == null) {
            throw new IllegalArgumentException("key spec fields must not be null");
        }
        if ((kind == Kind.VIDKV || kind == Kind.REFERENCE) && !(keyBits >= 1 && keyBits <= 2)) {
            throw new IllegalArgumentException("VidKV key bits must be in [1, 2], got " + keyBits);
        }
    }

    /**
     * FP16 keys: no quantization, 16 bits per element.
     *
     * @return the spec
     */
    public static KeySpec fp16() {
        return new KeySpec(Kind.FP16, 16, QuantAxis.PER_CHANNEL, 16, SplitMetric.RANGE, false, false,
                ParameterFit.MIN_MAX);
    }

    /**
     * Uniform k-bit keys: asymmetric min/max codes with a scale and a zero point per group along
     * {@code axis} (KIVI and VidKV-2 use 2 bits per channel).
     *
     * @param bits bits per code, 1, 2, 3, 4 or 8; other values make {@link KvCache#create} throw
     *             {@code IllegalArgumentException}
     * @param axis which elements share a scale and zero point
     * @return the spec
     * @throws IllegalArgumentException if {@code axis} is null
     */
    public static KeySpec uniform(int bits, QuantAxis axis) {
        return new KeySpec(Kind.UNIFORM, bits, axis, bits, SplitMetric.RANGE, false, false, ParameterFit.MIN_MAX);
    }

    /**
     * VidKV keys (METHOD.md section 2): anomalous channels 2-bit, normal channels spectral,
     * channels ranked by {@link SplitMetric#RANGE}, split frozen at calibration.
     *
     * @param keyBits nominal key bits in [1, 2]: 1.25, 1.5 and 1.75 make 25, 50 and 75 % of the
     *                channels anomalous; 2.0 all of them
     * @return the spec
     * @throws IllegalArgumentException if {@code keyBits} is outside [1, 2]
     */
    public static KeySpec vidkv(double keyBits) {
        return new KeySpec(Kind.VIDKV, 2, QuantAxis.PER_CHANNEL, keyBits, SplitMetric.RANGE, true, false, ParameterFit.MIN_MAX);
    }

    /**
     * The reference code's keys (METHOD.md section 6): complex FFT, 2n bits, {0, +s}. Using them
     * puts the layer in {@linkplain LayerConfig#referenceMode() reference mode}; the split is always
     * by range, one per layer, chosen again at every re-quantization, and FP16 metadata is used whatever the layer's
     * {@link MetadataFormat}.
     *
     * @param keyBits nominal key bits in [1, 2], as for {@link #vidkv(double)}
     * @return the spec
     * @throws IllegalArgumentException if {@code keyBits} is outside [1, 2]
     */
    public static KeySpec reference(double keyBits) {
        return new KeySpec(Kind.REFERENCE, 2, QuantAxis.PER_CHANNEL, keyBits, SplitMetric.RANGE, true, false, ParameterFit.MIN_MAX);
    }

    /**
     * This spec with another channel ranking (VIDKV only; METHOD.md section 2 compares them).
     *
     * @param metric how channels are ranked for the anomalous/normal split
     * @return a new spec
     * @throws IllegalArgumentException if {@code metric} is null
     */
    public KeySpec withSplit(SplitMetric metric) {
        return new KeySpec(kind, bits, axis, keyBits, metric, spectral, splitPerGroup, fit);
    }

    /**
     * This spec with the DFT of the normal channels on or off (VIDKV only).
     *
     * @param on {@code true}: sign bits of spectral components; {@code false}: sign bits of the
     *           normal channels themselves
     * @return a new spec
     */
    public KeySpec withSpectral(boolean on) {
        return new KeySpec(kind, bits, axis, keyBits, split, on, splitPerGroup, fit);
    }

    /**
     * This spec with a per-block channel split on or off (VIDKV only; see the record's
     * {@code splitPerGroup}). On requires {@link MetadataFormat#FP16}.
     *
     * @param on {@code true}: every block picks its own anomalous channels; {@code false}: the
     *           split is frozen at calibration
     * @return a new spec
     */
    public KeySpec withSplitPerGroup(boolean on) {
        return new KeySpec(kind, bits, axis, keyBits, split, spectral, on, fit);
    }

    /**
     * Bits per key element as the paper counts them (codes only).
     *
     * @return 16 for FP16, {@code bits} for UNIFORM, {@code keyBits} for VIDKV and REFERENCE
     */
    public double nominalBits() {
        return switch (kind) {
            case FP16 -> 16;
            case UNIFORM -> bits;
            case VIDKV, REFERENCE -> keyBits;
        };
    }

    /**
     * This spec with another way to choose scale and zero point (UNIFORM only).
     *
     * @param f the fit
     * @return a new spec
     * @throws IllegalArgumentException if {@code f} is null
     */
    public KeySpec withFit(ParameterFit f) {
        return new KeySpec(kind, bits, axis, keyBits, split, spectral, splitPerGroup, f);
    }
}
