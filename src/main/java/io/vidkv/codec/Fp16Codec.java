package io.vidkv.codec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * No quantization: IEEE half precision through the same paged structure, the reference point
 * for memory and speed. Layout: token-major halves, x[t * d + c] at {@code off + 2 * (t * d + c)}.
 * Inputs must lie within the FP16 range (the cache checks this before anything is stored).
 */
public final class Fp16Codec implements KeyCodec, ValueCodec {

    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED;
    private final int groupSize;
    private final int headDim;

    public Fp16Codec(int groupSize, int headDim) {
        this.groupSize = groupSize;
        this.headDim = headDim;
    }

    @Override
    public long blockBytes() {
        return 2L * groupSize * headDim;
    }

    @Override
    public long metadataBytes() {
        return 0;
    }

    @Override
    public long blockBytes(int protectedTokens) {
        return blockBytes();
    }

    @Override
    public long metadataBytes(int protectedTokens) {
        return 0;
    }

    @Override
    public boolean supportsProtection() {
        return false;
    }

    @Override
    public void calibrate(float[] x, int tokens, HeadState state, CodecScratch scratch) {
        // nothing to fix
    }

    @Override
    public void encode(float[] x, HeadState state, MemorySegment dst, long off, CodecScratch scratch) {
        int n = groupSize * headDim;
        for (int i = 0; i < n; i++) {
            dst.set(HALF, off + 2L * i, Float.floatToFloat16(x[i]));
        }
    }

    @Override
    public long encode(float[] x, long protectedMask, HeadState state, MemorySegment dst, long off, CodecScratch scratch) {
        encode(x, state, dst, off, scratch);
        return blockBytes();
    }

    @Override
    public void decodeRows(MemorySegment src, long off, HeadState state, float[] out, int outOff, CodecScratch scratch) {
        for (int t = 0; t < groupSize; t++) {
            long row = off + 2L * t * headDim;
            for (int c = 0; c < headDim; c++) {
                out[outOff + c * groupSize + t] = Float.float16ToFloat(src.get(HALF, row + 2L * c));
            }
        }
    }

    @Override
    public void transformQuery(float[] q, int queries, float scale, HeadState state, float[] out, CodecScratch scratch) {
        for (int i = 0; i < queries * headDim; i++) {
            out[i] = q[i] * scale;
        }
    }

    @Override
    public void dequantize(MemorySegment src, long off, HeadState state, float[] out, CodecScratch scratch) {
        decode(src, off, state, out, 0, scratch);
    }

    @Override
    public void decode(MemorySegment src, long off, HeadState state, float[] out, int outOff, CodecScratch scratch) {
        int n = groupSize * headDim;
        for (int i = 0; i < n; i++) {
            out[outOff + i] = Float.float16ToFloat(src.get(HALF, off + 2L * i));
        }
    }
}
