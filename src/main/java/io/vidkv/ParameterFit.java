package io.vidkv;

/**
 * How a uniform (k-bit min/max family) quantizer chooses a group's scale and zero point (part of a
 * {@link KeySpec} or {@link ValueSpec} of kind UNIFORM). Both store the same bits.
 */
public enum ParameterFit {
    /** scale = (max - min) / (2^k - 1), zero = min: every value in range, as KIVI and the paper do. */
    MIN_MAX,
    /**
     * Least squares from the min/max start: assign each value its nearest code, fit the line
     * x = zero + scale x code through them by least squares, and repeat (3 rounds); keep whichever
     * parameters, after rounding to the metadata format, leave the smallest squared error. It may
     * clip the extremes of a group when that lowers the error overall. Costs a few passes over the
     * group at quantization, nothing at decode. (VidKV's anomalous channels keep min/max: there the
     * extremes are what matters to attention, and fitting them measured worse.)
     */
    LEAST_SQUARES
}
