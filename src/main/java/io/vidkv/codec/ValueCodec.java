package io.vidkv.codec;

import java.lang.foreign.MemorySegment;

/**
 * Packs the values of one group of G tokens of one (layer, KV head) into a block. Blocks may
 * carry protected tokens (a G-bit mask; those tokens' values at higher precision), so the block
 * size depends on how many tokens of the group are protected. Thread-safe.
 */
public interface ValueCodec {

    /** Bytes of a block with {@code protectedTokens} protected tokens. */
    long blockBytes(int protectedTokens);

    /** Of {@link #blockBytes(int)}, bytes that are scales, zero points and masks. */
    long metadataBytes(int protectedTokens);

    /** Whether protected tokens are stored differently (otherwise the mask is ignored). */
    boolean supportsProtection();

    /**
     * Bytes of the (layer, head) state this codec fixes at calibration, as the memory report counts
     * them (channel split, super-scales, normalizers: {@link HeadState}); 0 if it keeps none.
     */
    default long stateBytes() {
        return 0;
    }

    /** Fixes super-scales from {@code tokens} rows of x[t * d + c]. */
    void calibrate(float[] x, int tokens, HeadState state, CodecScratch scratch);

    /**
     * Quantizes x[t * d + c] (G tokens) into {@code dst} at {@code off}; bit t of
     * {@code protectedMask} marks token t protected. Returns the bytes written.
     */
    long encode(float[] x, long protectedMask, HeadState state, MemorySegment dst, long off, CodecScratch scratch);

    /** Dequantizes a block to out[outOff + t * d + c]. */
    void decode(MemorySegment src, long off, HeadState state, float[] out, int outOff, CodecScratch scratch);
}
