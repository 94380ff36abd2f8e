package io.vidkv;

/**
 * How ternary values choose, per (channel, group), which values become zero (part of a
 * {@link ValueSpec}). Both store the same bits: codes in {-1, 0, +1} and one scale, the mean |v|
 * over the nonzero codes (the least-squares scale for those codes).
 */
public enum TernaryThreshold {
    /**
     * The paper's rule (METHOD.md section 3): code 0 where |v| is at most gamma x mean |v| over the
     * group's unprotected values.
     */
    MEAN_ABS,
    /**
     * The threshold with the smallest squared error: of the G + 1 ways to keep the k largest |v|
     * nonzero (k = 0..G), the one that maximizes (sum of those |v|)^2 / k, which is the error saved
     * by codes sign(v) x scale with the least-squares scale. Gamma is not used. Costs a sort of G
     * magnitudes per (channel, group) at quantization, nothing at decode.
     */
    LEAST_SQUARES
}
