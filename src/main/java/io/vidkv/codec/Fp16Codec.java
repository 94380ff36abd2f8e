package io.vidkv.codec;

import io.vidkv.layout.Fp16Layout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * No quantization: IEEE half precision through the same paged structure, the reference point
 * for memory and speed. Block layout: {@link Fp16Layout} (token-major keys and values). Inputs must
 * lie within the FP16 range (the cache checks this before anything is stored).
 */
public final class Fp16Codec implements KeyCodec, ValueCodec {

    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED;
    private final int groupSize;
    private final int headDim;
    private final Fp16Layout layout;

    public Fp16Codec(int groupSize, int headDim) {
        this.groupSize = groupSize;
        this.headDim = headDim;
        this.layout = new Fp16Layout(groupSize, headDim);
    }

    @Override
    public long blockBytes() {
        return layout.blockBytes();
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
    public long stateBytes() {
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
        encode(x, 0L, state, dst, off, scratch);
    }

    @Override
    public long encode(float[] x, long protectedMask, HeadState state, MemorySegment dst, long off, CodecScratch scratch) {
        for (int t = 0; t < groupSize; t++) {
            for (int c = 0; c < headDim; c++) {
                dst.set(HALF, off + layout.element(t, c), Float.floatToFloat16(x[t * headDim + c]));
            }
        }
        return blockBytes();
    }

    @Override
    public void transformQuery(float[] q, int queries, float scale, HeadState state, float[] out, CodecScratch scratch) {
        KeyCodec.scaleQueries(q, queries * headDim, scale, out);
    }

    @Override
    public void dequantize(MemorySegment src, long off, HeadState state, float[] out, CodecScratch scratch) {
        decode(src, off, state, out, 0, scratch);
    }

    @Override
    public void decode(MemorySegment src, long off, HeadState state, float[] out, int outOff, CodecScratch scratch) {
        halves(src, off, groupSize * headDim, out, outOff);
    }

    /** out[o + i] = the FP16 value at {@code off + 2i}; C2 compiles this loop to vcvtph2ps. */
    public static void halves(MemorySegment src, long off, int n, float[] out, int o) {
        for (int i = 0; i < n; i++) {
            out[o + i] = Float.float16ToFloat(src.get(HALF, off + 2L * i));
        }
    }
}
