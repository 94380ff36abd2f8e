package io.vidkv.codec;

/**
 * Per (layer, KV head) state that codecs fix once, at calibration, from the first groups they
 * quantize, and then never change (streaming is append-only, METHOD.md section 7):
 * the key channel order (anomalous channels first, each part in ascending channel order) and,
 * for {@link MetadataCodes#COMPACT8}, the per-row super-scales; for ternary values per token, the
 * value channel normalizers ({@link TernaryTokenCodec}).
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

    /**
     * Bytes this state occupies in the memory report: the key order as 2-byte indices when a split
     * is used, FP16 super-scales when metadata is compact, and FP16 value channel normalizers (the
     * per-token ternary values keep them in {@link #valueSuper}) in either format.
     */
    public long metadataBytes(boolean split, boolean compact, boolean valueNormalizers) {
        return (split ? 2L * keyOrder.length : 0) + (compact ? 2L * keySuper.length : 0)
                + (compact || valueNormalizers ? 2L * valueSuper.length : 0);
    }

    /** Super-scale from a calibration statistic: never zero, so later groups stay representable. */
    static float superScale(float stat, float fallback) {
        if (stat > 0f && Float.isFinite(stat)) {
            return stat;
        }
        return fallback > 0f ? fallback : 1f;
    }
}
