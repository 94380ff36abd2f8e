package io.vidkv.codec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The public reference code's value quantizer (METHOD.md section 6), kept only to compare
 * against: ternary per channel with threshold 0.5 * mean |v|, codes in 2-bit fields, an FP16 scale
 * per (channel, group) that is stored but never applied: values reconstruct as raw {-1, 0, +1}.
 *
 * <p>Block layout: G tokens x 2 planes (nonzero, negative) x d/8 bytes; d FP16 scales.
 */
public final class ReferenceValueCodec implements ValueCodec {

    static final double GAMMA = 0.5;
    private final int groupSize;
    private final int headDim;

    public ReferenceValueCodec(int groupSize, int headDim) {
        this.groupSize = groupSize;
        this.headDim = headDim;
    }

    @Override
    public long blockBytes(int protectedTokens) {
        return (long) groupSize * 2 * (headDim / 8) + metadataBytes(0);
    }

    @Override
    public long metadataBytes(int protectedTokens) {
        return 2L * headDim;
    }

    @Override
    public boolean supportsProtection() {
        return false;
    }

    @Override
    public void calibrate(float[] x, int tokens, HeadState state, CodecScratch scratch) {
        // nothing
    }

    @Override
    public long encode(float[] x, long protectedMask, HeadState state, MemorySegment dst, long off, CodecScratch s) {
        long scaleOff = off + (long) groupSize * 2 * (headDim / 8);
        int bytes = headDim / 8;
        for (int c = 0; c < headDim; c++) {
            double sum = 0;
            for (int t = 0; t < groupSize; t++) {
                sum += Math.abs(x[t * headDim + c]);
            }
            double threshold = GAMMA * sum / groupSize;
            for (int t = 0; t < groupSize; t++) {
                float v = x[t * headDim + c];
                s.codes[t * headDim + c] = Math.abs(v) > threshold ? (v > 0 ? 1 : -1) : 0;
            }
            MetadataCodes.FP16.writeRaw(dst, scaleOff + 2L * c, MetadataCodes.FP16.encodeScale((float) (sum / groupSize), 1f));
        }
        for (int t = 0; t < groupSize; t++) {
            long tok = off + (long) t * 2 * bytes;
            for (int j = 0; j < bytes; j++) {
                int nz = 0, neg = 0;
                for (int i = 0; i < 8; i++) {
                    int code = s.codes[t * headDim + 8 * j + i];
                    nz |= (code != 0 ? 1 : 0) << i;
                    neg |= (code < 0 ? 1 : 0) << i;
                }
                dst.set(ValueLayout.JAVA_BYTE, tok + j, (byte) nz);
                dst.set(ValueLayout.JAVA_BYTE, tok + bytes + j, (byte) neg);
            }
        }
        return blockBytes(0);
    }

    @Override
    public void decode(MemorySegment src, long off, HeadState state, float[] out, int outOff, CodecScratch s) {
        int bytes = headDim / 8;
        for (int t = 0; t < groupSize; t++) {
            long tok = off + (long) t * 2 * bytes;
            for (int c = 0; c < headDim; c++) { // the reference ignores its scales: raw {-1, 0, +1}
                int nz = BitStrings.get(src, tok, c), neg = BitStrings.get(src, tok + bytes, c);
                out[outOff + t * headDim + c] = nz == 0 ? 0f : neg != 0 ? -1f : 1f;
            }
        }
    }
}
