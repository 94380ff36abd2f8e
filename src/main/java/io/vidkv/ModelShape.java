package io.vidkv;

/**
 * The attention shape of a decoder: layers, query heads, key/value heads (grouped-query attention
 * when fewer than query heads) and the head dimension d. {@link KvCache#create} takes it with a
 * {@link CacheConfig} of as many layers; it fixes the [tokens, kvHeads, headDim] element layout of
 * every append and the [queryHeads, headDim] layout of the attention queries.
 *
 * @param layers     decoder layers, positive
 * @param queryHeads query heads per layer, positive and a multiple of {@code kvHeads}
 * @param kvHeads    key/value heads per layer, positive
 * @param headDim    channels per head, d: a positive multiple of 8, at most {@link #MAX_HEAD_DIM}
 */
public record ModelShape(int layers, int queryHeads, int kvHeads, int headDim) {

    /** Qwen2-7B, the decoder of LLaVA-OneVision-7B and Qwen2.5-VL-7B. */
    public static final ModelShape QWEN2_7B = new ModelShape(28, 28, 4, 128);

    /** Widest head supported: codecs size per-channel tables and scratch by d (models use 64-256). */
    public static final int MAX_HEAD_DIM = 4096;

    /**
     * Checks the shape.
     *
     * @param layers     decoder layers, positive
     * @param queryHeads query heads per layer, positive and a multiple of {@code kvHeads}
     * @param kvHeads    key/value heads per layer, positive
     * @param headDim    channels per head: a positive multiple of 8 (codes are packed 8 channels a
     *                   byte), at most {@link #MAX_HEAD_DIM}
     * @throws IllegalArgumentException if any of these rules is broken
     */
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

    /**
     * Query heads that share one KV head (the grouped-query attention ratio).
     *
     * @return {@code queryHeads / kvHeads}, 7 for {@link #QWEN2_7B}
     */
    public int queriesPerKvHead() {
        return queryHeads / kvHeads;
    }

    /**
     * Elements of one token's keys (or values) for one layer: what one token of an append occupies.
     *
     * @return {@code kvHeads * headDim}, 512 for {@link #QWEN2_7B}
     */
    public int tokenElements() {
        return kvHeads * headDim;
    }
}
