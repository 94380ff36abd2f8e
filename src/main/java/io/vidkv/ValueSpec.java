package io.vidkv;


/**
 * How a layer's values are stored (part of a {@link LayerConfig}). Make one with the factories
 * {@link #fp16()}, {@link #uniform(int, QuantAxis)}, {@link #ternary(TernaryPacking)},
 * {@link #ternaryProtected(TernaryPacking, double)} or {@link #reference()}; each field applies to
 * the kinds named in its description and is ignored by the others.
 *
 * @param kind              FP16, UNIFORM (k-bit min/max), TERNARY ({-1, 0, +1} per channel) or
 *                          REFERENCE (the reference code's values)
 * @param bits              UNIFORM: bits per code, 1, 2, 3, 4 or 8 (checked when the cache is created)
 * @param axis              UNIFORM and TERNARY: parameter sharing; METHOD.md section 3 finds per-channel
 *                          values better for video LLMs than KIVI's per-token ones (a data property:
 *                          measure it, {@code vidkv eval --experiments}). TERNARY per token: threshold
 *                          and scale per token over channels normalized by their calibration mean |v|
 *                          ({@link #withAxis}); BASE3 only, no protection
 * @param gamma             TERNARY: threshold factor (a = gamma * mean |v|), in [0, 10) (checked
 *                          when the cache is created); default {@link #DEFAULT_GAMMA}. Larger gamma
 *                          means more zero codes
 * @param packing           TERNARY: code packing
 * @param protection        TERNARY: tokens marked with {@link KvCache#protect} keep their values at
 *                          2 bits per channel (min/max over the block's protected tokens) instead of
 *                          ternary (semantic token protection, METHOD.md section 3)
 * @param protectedFraction the fraction p of tokens to protect, in [0, 1]: the cache does not apply
 *                          it by itself; pass it to {@link KvCache#protectBySaliency}. Nominal bits
 *                          count it
 * @param threshold         TERNARY: which values become zero; {@link TernaryThreshold#MEAN_ABS}
 *                          (the paper's gamma rule) in the factories
 * @param fit               UNIFORM: how scale and zero point are chosen; {@link ParameterFit#MIN_MAX}
 *                          in the factories
 * @param tokenScaleBits    TERNARY per token: how each token's scale is stored. 0 (the factories):
 *                          one scale a token in the layer's {@link MetadataFormat} (an FP16 half, or
 *                          a COMPACT8 byte). 4 or 3: one 4- or 3-bit code a token under one scale a
 *                          block (the block's largest token scale in the layer's format), at
 *                          levels spaced by a step each block chooses
 *                          ({@link io.vidkv.layout.TernaryLayout#TOKEN_STEP_OCTAVES}); half the metadata or less
 *                          where a head has few channels (d = 32: 0.125 or 0.094 bits an element
 *                          instead of 0.25). Other kinds and axes need 0 (checked when the cache is
 *                          created), see {@link #withTokenScaleBits}
 */
public record ValueSpec(Kind kind, int bits, QuantAxis axis, double gamma, TernaryPacking packing,
                        boolean protection, double protectedFraction, TernaryThreshold threshold, ParameterFit fit,
                        int tokenScaleBits) {

    /** The value storage families. */
    public enum Kind {
        /** Values as IEEE halves, 16 bits per element: no quantization. */
        FP16,
        /** k-bit asymmetric min/max codes (scale = (max - min) / (2^k - 1), zero = min) along an axis. */
        UNIFORM,
        /**
         * Ternary codes per channel over a group: sign(v) where |v| exceeds gamma x mean |v|, else 0;
         * reconstructed as code x scale, scale = mean |v| over the nonzero codes (the least-squares
         * scale for those codes). With {@link QuantAxis#PER_TOKEN} the same rule per token, over the
         * token's channels divided by their normalizers n_c (mean |v| at calibration): v' = n_c x
         * scale_t x code.
         */
        TERNARY,
        /**
         * The public reference code's values, for comparison only (METHOD.md section 6): ternary
         * with gamma 0.5 in 2-bit fields, reconstructed as raw {-1, 0, +1} (the stored scale is
         * never applied).
         */
        REFERENCE
    }

    /** The paper's ternary threshold factor, 0.7 (the reference code uses 0.5). */
    public static final double DEFAULT_GAMMA = 0.7;
    /** The paper's protected fraction p, 0.2: the presets with protection count 1.66 value bits with it. */
    public static final double DEFAULT_PROTECTED_FRACTION = 0.2;

    /**
     * Checks the spec.
     *
     * @param kind              the storage family, not null
     * @param bits              UNIFORM: bits per code
     * @param axis              UNIFORM: parameter sharing, not null
     * @param gamma             TERNARY: threshold factor
     * @param packing           TERNARY: code packing, not null
     * @param protection        TERNARY: keep protected tokens at 2 bits
     * @param protectedFraction the fraction p of tokens to protect, in [0, 1]
     * @param threshold         TERNARY: which values become zero, not null
     * @param fit               UNIFORM: how scale and zero point are chosen, not null
     * @param tokenScaleBits    TERNARY per token: 0, 3 or 4
     * @throws IllegalArgumentException if {@code kind}, {@code axis}, {@code packing}, {@code threshold} or {@code fit} is null,
     *                                  {@code protectedFraction} is outside [0, 1] (or NaN), or
     *                                  {@code tokenScaleBits} is not 0, 3 or 4
     */
    public ValueSpec {
        if (kind == null || axis == null || packing == null || threshold == null || fit == null) {
            throw new IllegalArgumentException("value spec fields must not be null");
        }
        if (!(protectedFraction >= 0 && protectedFraction <= 1)) {
            throw new IllegalArgumentException("protected fraction must be in [0, 1], got " + protectedFraction);
        }
        if (tokenScaleBits != 0 && tokenScaleBits != 3 && tokenScaleBits != 4) {
            throw new IllegalArgumentException("token scale bits must be 0 (the metadata format's), 3 or 4, got " + tokenScaleBits);
        }
    }

    /**
     * FP16 values: no quantization, 16 bits per element.
     *
     * @return the spec
     */
    public static ValueSpec fp16() {
        return new ValueSpec(Kind.FP16, 16, QuantAxis.PER_CHANNEL, 0, TernaryPacking.PLANES, false, 0, TernaryThreshold.MEAN_ABS, ParameterFit.MIN_MAX, 0);
    }

    /**
     * Uniform k-bit values: asymmetric min/max codes with a scale and a zero point per group along
     * {@code axis} (KIVI: 2 bits per token; VidKV-2: 2 bits per channel).
     *
     * @param bits bits per code, 1, 2, 3, 4 or 8; other values make {@link KvCache#create} throw
     *             {@code IllegalArgumentException}
     * @param axis which elements share a scale and zero point
     * @return the spec
     * @throws IllegalArgumentException if {@code axis} is null
     */
    public static ValueSpec uniform(int bits, QuantAxis axis) {
        return new ValueSpec(Kind.UNIFORM, bits, axis, 0, TernaryPacking.PLANES, false, 0, TernaryThreshold.MEAN_ABS, ParameterFit.MIN_MAX, 0);
    }

    /**
     * Ternary values per channel ("1.58-bit", METHOD.md section 3), gamma {@link #DEFAULT_GAMMA},
     * no token protection.
     *
     * @param packing how the codes are packed ({@link TernaryPacking#BASE3} in the presets)
     * @return the spec
     * @throws IllegalArgumentException if {@code packing} is null
     */
    public static ValueSpec ternary(TernaryPacking packing) {
        return new ValueSpec(Kind.TERNARY, 2, QuantAxis.PER_CHANNEL, DEFAULT_GAMMA, packing, false, 0, TernaryThreshold.MEAN_ABS, ParameterFit.MIN_MAX, 0);
    }

    /**
     * Ternary values per channel with semantic token protection: the tokens the caller marks with
     * {@link KvCache#protect} or {@link KvCache#protectBySaliency} keep 2-bit values.
     *
     * @param packing how the codes are packed
     * @param p       the fraction of tokens meant to be protected, in [0, 1] (the paper's 0.2,
     *                {@link #DEFAULT_PROTECTED_FRACTION}); recorded for the caller and the nominal
     *                bits, not applied by the cache
     * @return the spec
     * @throws IllegalArgumentException if {@code packing} is null or {@code p} is outside [0, 1]
     */
    public static ValueSpec ternaryProtected(TernaryPacking packing, double p) {
        return new ValueSpec(Kind.TERNARY, 2, QuantAxis.PER_CHANNEL, DEFAULT_GAMMA, packing, true, p, TernaryThreshold.MEAN_ABS, ParameterFit.MIN_MAX, 0);
    }

    /**
     * The reference code's values (METHOD.md section 6): unscaled ternary, gamma 0.5, 2-bit fields,
     * FP16 scales (stored, never applied) whatever the layer's {@link MetadataFormat}. For
     * comparison only: values lose their magnitude.
     *
     * @return the spec
     */
    public static ValueSpec reference() {
        return new ValueSpec(Kind.REFERENCE, 2, QuantAxis.PER_CHANNEL, 0.5, TernaryPacking.PLANES, false, 0, TernaryThreshold.MEAN_ABS, ParameterFit.MIN_MAX, 0);
    }

    /**
     * This spec with another ternary threshold factor (TERNARY only; REFERENCE always uses 0.5).
     *
     * @param g gamma, in [0, 10); other values make {@link KvCache#create} throw
     *          {@code IllegalArgumentException}
     * @return a new spec
     */
    public ValueSpec withGamma(double g) {
        return new ValueSpec(kind, bits, axis, g, packing, protection, protectedFraction, threshold, fit, tokenScaleBits);
    }

    /**
     * This spec with another rule for which ternary values become zero (TERNARY only).
     *
     * @param t the rule
     * @return a new spec
     * @throws IllegalArgumentException if {@code t} is null
     */
    public ValueSpec withThreshold(TernaryThreshold t) {
        return new ValueSpec(kind, bits, axis, gamma, packing, protection, protectedFraction, t, fit, tokenScaleBits);
    }

    /**
     * This spec with another ternary code packing (TERNARY only).
     *
     * @param p the packing
     * @return a new spec
     * @throws IllegalArgumentException if {@code p} is null
     */
    public ValueSpec withPacking(TernaryPacking p) {
        return new ValueSpec(kind, bits, axis, gamma, p, protection, protectedFraction, threshold, fit, tokenScaleBits);
    }

    /**
     * This spec with another parameter-sharing axis (UNIFORM and TERNARY). Ternary values per token
     * ({@link QuantAxis#PER_TOKEN}) need {@link TernaryPacking#BASE3} and no protection: other
     * combinations make {@link KvCache#create} throw {@code IllegalArgumentException}.
     *
     * @param a the axis
     * @return a new spec
     * @throws IllegalArgumentException if {@code a} is null
     */
    public ValueSpec withAxis(QuantAxis a) {
        return new ValueSpec(kind, bits, a, gamma, packing, protection, protectedFraction, threshold, fit, tokenScaleBits);
    }

    /**
     * This spec with another storage of the token scales (TERNARY per token only, see
     * {@link #tokenScaleBits()}).
     *
     * @param b 0 (a scale a token in the layer's metadata format), 3 or 4 (b-bit codes under a block scale)
     * @return a new spec
     * @throws IllegalArgumentException if {@code b} is not 0, 3 or 4
     */
    public ValueSpec withTokenScaleBits(int b) {
        return new ValueSpec(kind, bits, axis, gamma, packing, protection, protectedFraction, threshold, fit, b);
    }

    /**
     * This spec with another way to choose scale and zero point (UNIFORM only).
     *
     * @param f the fit
     * @return a new spec
     * @throws IllegalArgumentException if {@code f} is null
     */
    public ValueSpec withFit(ParameterFit f) {
        return new ValueSpec(kind, bits, axis, gamma, packing, protection, protectedFraction, threshold, f, tokenScaleBits);
    }

    /**
     * Bits per value element as the paper counts them: 1.58 ternary, p x 2 + (1 - p) x 1.58 with protection.
     *
     * @return 16 for FP16, {@code bits} for UNIFORM, 1.58 for REFERENCE and TERNARY without
     *         protection, {@code protectedFraction * 2 + (1 - protectedFraction) * 1.58} with it
     *         (1.66 at p = 0.2)
     */
    public double nominalBits() {
        return switch (kind) {
            case FP16 -> 16;
            case UNIFORM -> bits;
            case TERNARY -> protection ? protectedFraction * 2 + (1 - protectedFraction) * 1.58 : 1.58;
            case REFERENCE -> 1.58;
        };
    }
}
