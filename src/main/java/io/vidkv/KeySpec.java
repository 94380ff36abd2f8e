package io.vidkv;


/**
 * How a layer's keys are stored.
 *
 * @param kind     FP16, UNIFORM (k-bit min/max) or VIDKV (anomalous 2-bit + spectral 1-bit)
 * @param bits     UNIFORM: bits per code
 * @param axis     UNIFORM: parameter sharing
 * @param keyBits  VIDKV: nominal key bits in [1, 2]; the anomalous fraction is keyBits - 1
 * @param split    VIDKV: channel ranking for the split
 * @param spectral VIDKV: sign-quantize the normal channels' DFT (true) or the channels themselves
 * @param splitPerGroup VIDKV: choose the anomalous channels anew for every block (stored in the block
 *                 as a d-bit mask) instead of freezing the split at calibration. Costs d bits per block
 *                 (0.03 bits per key element at d = 128, G = 32) and, at decode time, one query FFT
 *                 per block and query head instead of one per step; it adapts to drifting outlier
 *                 channels, which the frozen split cannot.
 */
public record KeySpec(Kind kind, int bits, QuantAxis axis, double keyBits, SplitMetric split, boolean spectral,
                      boolean splitPerGroup) {

    public enum Kind { FP16, UNIFORM, VIDKV, REFERENCE }

    public KeySpec {
        if (kind == null || axis == null || split == null) {
            throw new IllegalArgumentException("key spec fields must not be null");
        }
        if ((kind == Kind.VIDKV || kind == Kind.REFERENCE) && !(keyBits >= 1 && keyBits <= 2)) {
            throw new IllegalArgumentException("VidKV key bits must be in [1, 2], got " + keyBits);
        }
    }

    public static KeySpec fp16() {
        return new KeySpec(Kind.FP16, 16, QuantAxis.PER_CHANNEL, 16, SplitMetric.RANGE, false, false);
    }

    public static KeySpec uniform(int bits, QuantAxis axis) {
        return new KeySpec(Kind.UNIFORM, bits, axis, bits, SplitMetric.RANGE, false, false);
    }

    public static KeySpec vidkv(double keyBits) {
        return new KeySpec(Kind.VIDKV, 2, QuantAxis.PER_CHANNEL, keyBits, SplitMetric.RANGE, true, false);
    }

    /** The reference code's keys (METHOD.md section 6): complex FFT, 2n bits, {0, +s}. */
    public static KeySpec reference(double keyBits) {
        return new KeySpec(Kind.REFERENCE, 2, QuantAxis.PER_CHANNEL, keyBits, SplitMetric.RANGE, true, false);
    }

    public KeySpec withSplit(SplitMetric metric) {
        return new KeySpec(kind, bits, axis, keyBits, metric, spectral, splitPerGroup);
    }

    public KeySpec withSpectral(boolean on) {
        return new KeySpec(kind, bits, axis, keyBits, split, on, splitPerGroup);
    }

    public KeySpec withSplitPerGroup(boolean on) {
        return new KeySpec(kind, bits, axis, keyBits, split, spectral, on);
    }

    /** Bits per key element as the paper counts them (codes only). */
    public double nominalBits() {
        return switch (kind) {
            case FP16 -> 16;
            case UNIFORM -> bits;
            case VIDKV, REFERENCE -> keyBits;
        };
    }
}
