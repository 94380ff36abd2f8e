package io.vidkv.codec;

import java.lang.foreign.MemorySegment;

/**
 * Packs the keys of one group of G tokens of one (layer, KV head) into a block, and serves the
 * decode kernel. A key codec works in a "row space" of d rows that may differ from the channel
 * space (VidKV: anomalous channels, then spectral components of the normal channels):
 * {@link #transformQuery} maps a query into that space once per step so that
 * {@code q' . rows(t) = q . k(t)} for every token t; the kernels in {@code io.vidkv.kernel} then
 * score the codes of the block's layout directly. Implementations are stateless apart from
 * {@link HeadState} and the caller's {@link CodecScratch}; thread-safe.
 */
public interface KeyCodec {

    /** Bytes of one block. */
    long blockBytes();

    /** Of {@link #blockBytes()}, bytes that are scales and zero points rather than codes. */
    long metadataBytes();

    /**
     * Bytes of the (layer, head) state this codec fixes at calibration, as the memory report counts
     * them (channel split, super-scales, normalizers: {@link HeadState}); 0 if it keeps none.
     */
    default long stateBytes() {
        return 0;
    }

    /** Fixes the head's channel split and super-scales from {@code tokens} rows of x[t * d + c]. */
    void calibrate(float[] x, int tokens, HeadState state, CodecScratch scratch);

    /** Quantizes x[t * d + c] (G tokens) into {@code dst} at {@code off}. */
    void encode(float[] x, HeadState state, MemorySegment dst, long off, CodecScratch scratch);

    /** Maps {@code queries} queries q[i * d + c] into row space, out[i * d + r], times {@code scale}. */
    void transformQuery(float[] q, int queries, float scale, HeadState state, float[] out, CodecScratch scratch);

    /** out[i] = q[i] * scale for i < n: the query transform of codecs whose rows are the channels. */
    static void scaleQueries(float[] q, int n, float scale, float[] out) {
        for (int i = 0; i < n; i++) {
            out[i] = q[i] * scale;
        }
    }

    /**
     * Creates whatever {@code scratch} needs for this codec (FFTW plans) now rather than on first use,
     * so that the first block quantized or scored during decoding allocates nothing.
     */
    default void prepare(CodecScratch scratch) {
    }

    /** Whether the row space differs per block, so queries must be transformed per block. */
    default boolean rowSpacePerBlock() {
        return false;
    }

    /** {@link #transformQuery} for the row space of the block at {@code off}. */
    default void transformQueryForBlock(MemorySegment src, long off, float[] q, int queries, float scale, HeadState state,
                                        float[] out, CodecScratch scratch) {
        transformQuery(q, queries, scale, state, out, scratch);
    }

    /**
     * The block's keys in row space, token-major: out[t * d + r] for its G tokens, so that
     * {@code q' . out[t]} with q' from {@link #transformQuery} is the score of token t and no key is
     * ever inverse-transformed (the prefill tile). Codecs whose rows are the channels dequantize;
     * where {@link #rowSpacePerBlock()}, the rows are the block's own.
     */
    default void decodeRows(MemorySegment src, long off, HeadState state, float[] out, CodecScratch scratch) {
        dequantize(src, off, state, out, scratch);
    }

    /**
     * Exact keys x[t * d + c] (channel space, the residual window) into row space, out[t * d + r],
     * for t < tokens <= G; x must hold G rows (those at and after {@code tokens} are ignored).
     * Codecs whose rows are the channels copy.
     */
    default void keyRows(float[] x, int tokens, HeadState state, float[] out, CodecScratch scratch) {
        System.arraycopy(x, 0, out, 0, tokens * scratch.headDim);
    }

    /** Dequantizes a block to channel space, out[t * d + c] (evaluation, prefill tiles and the reference mode's kernel). */
    void dequantize(MemorySegment src, long off, HeadState state, float[] out, CodecScratch scratch);
}
