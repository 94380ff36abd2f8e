package io.vidkv.codec;

/**
 * Per (layer, KV head) state that codecs fix once, at calibration, from the first groups they
 * quantize, and then never change (streaming is append-only, METHOD.md section 7):
 * the key channel order (anomalous channels first, each part in ascending channel order) and,
 * for {@link MetadataCodes#COMPACT8}, the super-scales; for ternary values per token, the value
 * channel normalizers ({@link TernaryTokenCodec}). The codecs report what it costs
 * ({@link KeyCodec#stateBytes()}, {@link ValueCodec#stateBytes()}) and round it to what they report.
 */
public final class HeadState {

    /** Key channel order: order[r] is the channel stored in row r. */
    public final int[] keyOrder;
    /** Super-scales of the key rows (COMPACT8 metadata only). */
    public final float[] keySuper;
    /** Super-scales of the value channels (COMPACT8 metadata), or their normalizers (ternary values per token). */
    public final float[] valueSuper;
    private boolean calibrated;

    public HeadState(int headDim) {
        keyOrder = new int[headDim];
        for (int i = 0; i < headDim; i++) {
            keyOrder[i] = i;
        }
        keySuper = new float[headDim];
        valueSuper = new float[headDim];
        java.util.Arrays.fill(keySuper, 1f);
        java.util.Arrays.fill(valueSuper, 1f);
    }

    public boolean calibrated() {
        return calibrated;
    }

    public void markCalibrated() {
        calibrated = true;
    }

    /** Steps per octave of the 8-bit log codes of COMPACT8 head state ({@link #roundToCodes}). */
    static final int STATE_STEPS = 24;

    /**
     * Rounds v[from, to) to the COMPACT8 form of per-head state: one FP16 reference (the largest
     * entry) and one 8-bit log code per entry, v = reference x 2^((code - 255) / 24): 2.9 % steps
     * down to 2^-10.6 of the reference, below which an entry takes the smallest code. Everything the
     * state's entries do is relative (super-scales, channel normalizers), so rounding them costs no
     * fidelity, and the memory report counts one byte an entry plus two for the reference
     * ({@link #codedBytes}).
     */
    static void roundToCodes(float[] v, int from, int to) {
        float reference = 0f;
        for (int i = from; i < to; i++) {
            reference = Math.max(reference, v[i]);
        }
        reference = half(reference);
        if (!(reference > 0f)) {
            return;
        }
        for (int i = from; i < to; i++) {
            double code = Math.rint(255 + STATE_STEPS * Math.log(v[i] / reference) / Math.log(2));
            v[i] = (float) (reference * Math.pow(2, (Math.max(0, Math.min(255, code)) - 255) / STATE_STEPS));
        }
    }

    /** Bytes of n entries in the form of {@link #roundToCodes}: a code each and the FP16 reference. */
    static long codedBytes(int n) {
        return n + 2L;
    }

    /**
     * Bytes of a key channel split in the memory report: a d-bit mask of the anomalous channels
     * ({@link #keyOrder} is that set in ascending order, then the rest in ascending order).
     */
    static long splitBytes(int headDim) {
        return (headDim + 7) / 8;
    }

    /** x rounded to FP16, clamped into its positive normal range (0 and non-finite stay, for superScale). */
    static float half(float x) {
        if (!(x > 0f) || !Float.isFinite(x)) {
            return x;
        }
        return Float.float16ToFloat(Float.floatToFloat16(Math.max(0x1p-14f, Math.min(x, MetadataCodes.FP16_MAX))));
    }

    /** Super-scale from a calibration statistic: never zero, so later groups stay representable. */
    static float superScale(float stat, float fallback) {
        if (stat > 0f && Float.isFinite(stat)) {
            return stat;
        }
        return fallback > 0f ? fallback : 1f;
    }
}
