package io.vidkv;

/**
 * The attention shape of a decoder: layers, query heads, key/value heads (grouped-query attention
 * when fewer than query heads) and the head dimension d.
 */
public record ModelShape(int layers, int queryHeads, int kvHeads, int headDim) {

    /** Qwen2-7B, the decoder of LLaVA-OneVision-7B and Qwen2.5-VL-7B. */
    public static final ModelShape QWEN2_7B = new ModelShape(28, 28, 4, 128);

    /** Widest head supported: codecs size per-channel tables and scratch by d (models use 64-256). */
    public static final int MAX_HEAD_DIM = 4096;

    public ModelShape {
        if (layers <= 0 || queryHeads <= 0 || kvHeads <= 0 || headDim <= 0) {
            throw new IllegalArgumentException("model shape sizes must be positive: layers=" + layers
                    + " queryHeads=" + queryHeads + " kvHeads=" + kvHeads + " headDim=" + headDim);
        }
        if (queryHeads % kvHeads != 0) {
            throw new IllegalArgumentException("queryHeads (" + queryHeads + ") must be a multiple of kvHeads (" + kvHeads + ")");
        }
        if (headDim % 8 != 0) {
            throw new IllegalArgumentException("headDim must be a multiple of 8 (codes are packed 8 channels a byte), got " + headDim);
        }
        if (headDim > MAX_HEAD_DIM) {
            throw new IllegalArgumentException("headDim must be at most " + MAX_HEAD_DIM + ", got " + headDim);
        }
    }

    /** Query heads that share one KV head. */
    public int queriesPerKvHead() {
        return queryHeads / kvHeads;
    }

    /** Elements of one token's keys (or values) for one layer: kvHeads x headDim. */
    public int tokenElements() {
        return kvHeads * headDim;
    }
}
