package io.vidkv.codec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * No quantization: IEEE half precision through the same paged structure, the reference point
 * for memory and speed. Layouts are chosen for the decode loops: keys channel-major (x[t][c] at
 * {@code off + 2 * (c * G + t)}, so a channel's G tokens convert straight into score lanes), values
 * token-major (x[t][c] at {@code off + 2 * (t * d + c)}). Inputs must lie within the FP16 range (the
 * cache checks this before anything is stored).
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
        for (int t = 0; t < groupSize; t++) {
            for (int c = 0; c < headDim; c++) {
                dst.set(HALF, off + 2L * (c * groupSize + t), Float.floatToFloat16(x[t * headDim + c]));
            }
        }
    }

    @Override
    public long encode(float[] x, long protectedMask, HeadState state, MemorySegment dst, long off, CodecScratch scratch) {
        int n = groupSize * headDim;
        for (int i = 0; i < n; i++) {
            dst.set(HALF, off + 2L * i, Float.floatToFloat16(x[i]));
        }
        return blockBytes();
    }

    @Override
    public void decodeRows(MemorySegment src, long off, HeadState state, float[] out, int outOff, CodecScratch scratch) {
        PlaneDecoder.halves(src, off, groupSize * headDim, out, outOff);
    }

    @Override
    public void transformQuery(float[] q, int queries, float scale, HeadState state, float[] out, CodecScratch scratch) {
        KeyCodec.scaleQueries(q, queries * headDim, scale, out);
    }

    @Override
    public void dequantize(MemorySegment src, long off, HeadState state, float[] out, CodecScratch scratch) {
        for (int t = 0; t < groupSize; t++) {
            for (int c = 0; c < headDim; c++) {
                out[t * headDim + c] = Float.float16ToFloat(src.get(HALF, off + 2L * (c * groupSize + t)));
            }
        }
    }

    @Override
    public void decode(MemorySegment src, long off, HeadState state, float[] out, int outOff, CodecScratch scratch) {
        PlaneDecoder.halves(src, off, groupSize * headDim, out, outOff);
    }
}
