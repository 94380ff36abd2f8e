package io.vidkv.codec;

import io.vidkv.QuantAxis;
import io.vidkv.layout.UniformLayout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Uniform asymmetric k-bit quantization (k = 1, 2, 3, 4, 8) with min/max parameters:
 * scale = (max - min) / (2^k - 1), zero = min, code = clamp(round((x - zero) / scale), 0, 2^k - 1),
 * x' = zero + scale * code. Parameters per channel (over the block's G tokens) or per token (over
 * groups of {@code channelGroup} channels). Gives the KIVI and VidKV-2 baselines.
 *
 * <p>Block layout: {@link UniformLayout} (keys as token-major bit strings, values as channel-major
 * bit planes), parameters in the block's {@link MetadataCodes}.
 */
public final class UniformCodec implements KeyCodec, ValueCodec {

    private final int bits;
    private final int levels;
    private final QuantAxis axis;
    private final boolean keyLayout;
    private final MetadataCodes format;
    private final int groupSize;
    private final int headDim;
    private final UniformLayout layout;
    /** Parameters by least squares ({@link io.vidkv.ParameterFit#LEAST_SQUARES}) instead of min/max. */
    private final boolean leastSquares;
    private final EncodeMath encoder;

    public UniformCodec(int bits, QuantAxis axis, boolean keyLayout, MetadataCodes format, int groupSize, int headDim) {
        this(bits, axis, keyLayout, format, groupSize, headDim, false);
    }

    /** With the parameter fit: {@code leastSquares} true for {@link io.vidkv.ParameterFit#LEAST_SQUARES}. */
    public UniformCodec(int bits, QuantAxis axis, boolean keyLayout, MetadataCodes format, int groupSize, int headDim,
                        boolean leastSquares) {
        this(bits, axis, keyLayout, format, groupSize, headDim, leastSquares, EncodeMath.chosen());
    }

    /** With the encoder body to use (the tests compare both). */
    UniformCodec(int bits, QuantAxis axis, boolean keyLayout, MetadataCodes format, int groupSize, int headDim,
                 boolean leastSquares, EncodeMath encoder) {
        this.encoder = encoder;
        if (bits != 1 && bits != 2 && bits != 3 && bits != 4 && bits != 8) {
            throw new IllegalArgumentException("uniform quantization supports 1, 2, 3, 4 or 8 bits, got " + bits);
        }
        this.bits = bits;
        this.levels = 1 << bits;
        this.axis = axis;
        this.keyLayout = keyLayout;
        this.format = format;
        this.groupSize = groupSize;
        this.headDim = headDim;
        this.layout = new UniformLayout(bits, axis == QuantAxis.PER_CHANNEL, groupSize, headDim, format.bytes());
        this.leastSquares = leastSquares;
    }

    public int bits() {
        return bits;
    }

    public QuantAxis axis() {
        return axis;
    }

    /** The block layout this codec writes and the kernel reads. */
    public UniformLayout layout() {
        return layout;
    }

    public MetadataCodes format() {
        return format;
    }

    /** Whether this codec stores keys (token-major strings) rather than values (channel-major planes). */
    public boolean keyLayout() {
        return keyLayout;
    }

    @Override
    public long blockBytes() {
        return layout.blockBytes();
    }

    @Override
    public long metadataBytes() {
        return layout.metadataBytes();
    }

    @Override
    public long blockBytes(int protectedTokens) {
        return blockBytes();
    }

    @Override
    public long metadataBytes(int protectedTokens) {
        return metadataBytes();
    }

    @Override
    public boolean supportsProtection() {
        return false;
    }

    /** The super-scale slot of parameter p: its channel (per channel) or its channel group (per token). */
    private int superSlot(int p) {
        return axis == QuantAxis.PER_CHANNEL ? p : p % (headDim / layout.channelGroup());
    }

    /**
     * COMPACT8: one super-scale for the head, the largest channel's calibration scale (max - min) /
     * (2^k - 1) in FP16. The rows of a uniform block are all of one
     * kind, and 8-bit log scales reach 2^-8.3 below it, so one number serves every channel.
     */
    @Override
    public void calibrate(float[] x, int tokens, HeadState state, CodecScratch scratch) {
        if (format != MetadataCodes.COMPACT8) {
            return;
        }
        float[] sup = keyLayout ? state.keySuper : state.valueSuper;
        float global = 0f;
        for (int c = 0; c < headDim; c++) {
            float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
            for (int t = 0; t < tokens; t++) {
                float v = x[t * headDim + c];
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            global = Math.max(global, (max - min) / (levels - 1));
        }
        java.util.Arrays.fill(sup, HeadState.half(HeadState.superScale(global, 1f)));
    }

    /** COMPACT8: the one FP16 super-scale. */
    @Override
    public long stateBytes() {
        return format == MetadataCodes.COMPACT8 ? 2 : 0;
    }

    @Override
    public void encode(float[] x, HeadState state, MemorySegment dst, long off, CodecScratch scratch) {
        encode(x, 0L, state, dst, off, scratch);
    }

    @Override
    public long encode(float[] x, long protectedMask, HeadState state, MemorySegment dst, long off, CodecScratch s) {
        float[] sup = keyLayout ? state.keySuper : state.valueSuper;
        int[] codes = s.codes; // codes[t * d + c]
        long[] words = s.words; // words[c * bits + p]: bit p of channel c's codes over the G tokens
        if (axis == QuantAxis.PER_CHANNEL) {
            encoder.channelMinMax(x, headDim, groupSize, s.channelLow, s.channelHigh);
            if (leastSquares) {
                MinMaxCodes.fittedChannelParams(x, headDim, groupSize, levels, format, sup, dst, off + layout.scale(0),
                        off + layout.zero(0), layout.scale(1) - layout.scale(0), s, encoder);
            } else {
                MinMaxCodes.channelParams(x, headDim, groupSize, null, headDim, levels, format, sup, dst, off + layout.scale(0),
                        off + layout.zero(0), layout.scale(1) - layout.scale(0), s, false);
            }
            if (bits == 2) {
                encoder.twoBitWords(x, headDim, groupSize, s.channelZero, s.channelInv, s.words, s.words2);
                for (int c = 0; c < headDim; c++) {
                    BitStrings.setWord(dst, off + row(c, 0), groupSize, s.words[c]);
                    BitStrings.setWord(dst, off + row(c, 1), groupSize, s.words2[c]);
                }
                return blockBytes();
            }
            encoder.channelCodes(x, headDim, groupSize, s.channelZero, s.channelInv, levels, codes);
        } else {
            int cg = layout.channelGroup();
            for (int p = 0; p < layout.params(); p++) {
                int t = p / (headDim / cg), c0 = (p % (headDim / cg)) * cg;
                int base = t * headDim + c0;
                encoder.minMax(x, base, cg, s.params);
                float inv = MinMaxCodes.params(x, base, 1, cg, s.params[0], s.params[1], levels, format, sup[superSlot(p)],
                        dst, off + layout.scale(p), off + layout.zero(p), s, leastSquares);
                encoder.codes(x, base, cg, s.params[1], inv, levels, codes, base);
            }
        }
        // one bit row (bit p of channel c's codes over the G tokens) at a time, assembled in a word and
        // written whole, not a read-modify-write per bit; the rows cover the code bytes exactly
        encoder.planeWords(codes, headDim, groupSize, bits, words);
        for (int c = 0; c < headDim; c++) {
            for (int p = 0; p < bits; p++) {
                BitStrings.setWord(dst, off + row(c, p), groupSize, words[c * bits + p]);
            }
        }
        return blockBytes();
    }

    /** Offset of the G-bit row holding bit {@code p} of channel c's codes (keys and values differ in order only). */
    private long row(int c, int p) {
        return keyLayout ? layout.keyRowOffset(layout.keyRow(p, c)) : layout.valuePlane(c, p);
    }

    @Override
    public void transformQuery(float[] q, int queries, float scale, HeadState state, float[] out, CodecScratch scratch) {
        KeyCodec.scaleQueries(q, queries * headDim, scale, out);
    }

    @Override
    public void dequantize(MemorySegment src, long off, HeadState state, float[] out, CodecScratch scratch) {
        decode(src, off, state, out, 0, scratch);
    }

    /** out[outOff + t * d + c] = zero + scale * code (the dequantizer; kernels read the codes directly). */
    @Override
    public void decode(MemorySegment src, long off, HeadState state, float[] out, int outOff, CodecScratch s) {
        float[] sup = keyLayout ? state.keySuper : state.valueSuper;
        float[] scales = s.f1, zeros = s.f2;
        for (int p = 0; p < layout.params(); p++) {
            scales[p] = format.decodeScale(format.readRaw(src, off + layout.scale(p)), sup[superSlot(p)]);
            zeros[p] = format.decodeZero(format.readRaw(src, off + layout.zero(p)), scales[p]);
        }
        int[] codes = s.codes; // codes[t * d + c], then one row's bits from index G d
        int buf = groupSize * headDim;
        java.util.Arrays.fill(codes, 0, buf, 0);
        for (int c = 0; c < headDim; c++) {
            for (int p = 0; p < bits; p++) {
                BitStrings.unpack(src, off + row(c, p), groupSize, codes, buf);
                for (int t = 0; t < groupSize; t++) {
                    codes[t * headDim + c] |= codes[buf + t] << p;
                }
            }
        }
        for (int t = 0; t < groupSize; t++) {
            for (int c = 0; c < headDim; c++) {
                int pi = layout.param(t, c);
                out[outOff + t * headDim + c] = Math.fma(scales[pi], codes[t * headDim + c], zeros[pi]);
            }
        }
    }
}
