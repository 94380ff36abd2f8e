package io.vidkv.codec;

import java.lang.foreign.MemorySegment;

/**
 * Uniform asymmetric k-bit quantization (k = 1, 2, 3, 4, 8) with min/max parameters:
 * scale = (max - min) / (2^k - 1), zero = min, code = clamp(round((x - zero) / scale), 0, 2^k - 1),
 * x' = zero + scale * code. Parameters per channel (over the block's G tokens) or per token (over
 * groups of {@code channelGroup} channels). Gives the KIVI and VidKV-2 baselines.
 *
 * <p>Block layout: codes as {@link CodePlanes} (keys: rows = channels over the G tokens, tokens in
 * lanes; values: token-major, channels in lanes), then all scales, then all zero points, in the
 * block's {@link MetadataFormat}. Parameter p of a per-channel block is channel p; of a per-token
 * block, token p / (d / channelGroup), channel group p % (d / channelGroup).
 */
public final class UniformCodec implements KeyCodec, ValueCodec {

    private final int bits;
    private final int levels;
    private final QuantAxis axis;
    private final boolean keyLayout;
    private final MetadataFormat format;
    private final int groupSize;
    private final int headDim;
    private final int channelGroup;
    private final int params;
    private final long codeBytes;

    public UniformCodec(int bits, QuantAxis axis, boolean keyLayout, MetadataFormat format, int groupSize, int headDim) {
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
        this.channelGroup = headDim % groupSize == 0 ? groupSize : headDim;
        this.params = axis == QuantAxis.PER_CHANNEL ? headDim : groupSize * (headDim / channelGroup);
        this.codeBytes = CodePlanes.bytes(bits, groupSize, headDim);
    }

    public int bits() {
        return bits;
    }

    public QuantAxis axis() {
        return axis;
    }

    @Override
    public long blockBytes() {
        return codeBytes + metadataBytes();
    }

    @Override
    public long metadataBytes() {
        return 2L * params * format.bytes();
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

    @Override
    public void calibrate(float[] x, int tokens, HeadState state, CodecScratch scratch) {
        if (format != MetadataFormat.COMPACT8) {
            return;
        }
        float[] sup = keyLayout ? state.keySuper : state.valueSuper;
        // Super-scale per channel (per-token params use the channel group's first channel slot).
        float global = 0f;
        for (int c = 0; c < headDim; c++) {
            float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
            for (int t = 0; t < tokens; t++) {
                float v = x[t * headDim + c];
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            sup[c] = (max - min) / (levels - 1);
            global = Math.max(global, sup[c]);
        }
        if (axis == QuantAxis.PER_TOKEN) {
            for (int g = 0; g < headDim / channelGroup; g++) {
                float m = 0f;
                for (int c = g * channelGroup; c < (g + 1) * channelGroup; c++) {
                    m = Math.max(m, sup[c]);
                }
                sup[g] = m;
            }
        }
        for (int i = 0; i < sup.length; i++) {
            sup[i] = HeadState.superScale(sup[i], global);
        }
    }

    @Override
    public void encode(float[] x, HeadState state, MemorySegment dst, long off, CodecScratch scratch) {
        encode(x, 0L, state, dst, off, scratch);
    }

    @Override
    public long encode(float[] x, long protectedMask, HeadState state, MemorySegment dst, long off, CodecScratch s) {
        float[] sup = keyLayout ? state.keySuper : state.valueSuper;
        int[] codes = s.codes;
        long scaleOff = off + codeBytes;
        long zeroOff = scaleOff + (long) params * format.bytes();
        int groupsPerToken = headDim / channelGroup;
        for (int p = 0; p < params; p++) {
            // Elements of parameter group p: (tStart..tEnd) x (cStart..cEnd).
            int tStart, tEnd, cStart, cEnd;
            if (axis == QuantAxis.PER_CHANNEL) {
                tStart = 0;
                tEnd = groupSize;
                cStart = p;
                cEnd = p + 1;
            } else {
                tStart = p / groupsPerToken;
                tEnd = tStart + 1;
                cStart = (p % groupsPerToken) * channelGroup;
                cEnd = cStart + channelGroup;
            }
            float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
            for (int t = tStart; t < tEnd; t++) {
                for (int c = cStart; c < cEnd; c++) {
                    float v = x[t * headDim + c];
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
            }
            float superScale = sup[axis == QuantAxis.PER_CHANNEL ? p : p % groupsPerToken];
            format.minMaxParams(min, max, levels, superScale, s.params, s.raw);
            float scale = s.params[0], zero = s.params[1];
            format.writeRaw(dst, scaleOff + (long) p * format.bytes(), s.raw[0]);
            format.writeRaw(dst, zeroOff + (long) p * format.bytes(), s.raw[1]);
            float inv = scale > 0f ? 1f / scale : 0f;
            for (int t = tStart; t < tEnd; t++) {
                for (int c = cStart; c < cEnd; c++) {
                    int code = Math.round((x[t * headDim + c] - zero) * inv);
                    code = Math.max(0, Math.min(levels - 1, code));
                    codes[keyLayout ? c * groupSize + t : t * headDim + c] = code;
                }
            }
        }
        if (keyLayout) {
            CodePlanes.pack(codes, headDim, groupSize, bits, true, dst, off);
        } else {
            CodePlanes.pack(codes, groupSize, headDim, bits, false, dst, off);
        }
        return blockBytes();
    }

    /** Codes of the block as floats, in the block's orientation, then scale and zero applied. */
    private void dequantizeOriented(MemorySegment src, long off, HeadState state, float[] out, int outOff, CodecScratch s) {
        float[] sup = keyLayout ? state.keySuper : state.valueSuper;
        long scaleOff = off + codeBytes;
        long zeroOff = scaleOff + (long) params * format.bytes();
        int groupsPerToken = headDim / channelGroup;
        if (bits == 2) {
            // The fast path of the 2-bit baselines: one table load per 8 codes per plane.
            float[] scales = s.f1, zeros = s.f2;
            for (int p = 0; p < params; p++) {
                float superScale = sup[axis == QuantAxis.PER_CHANNEL ? p : p % groupsPerToken];
                scales[p] = format.decodeScale(format.readRaw(src, scaleOff + (long) p * format.bytes()), superScale);
                zeros[p] = format.decodeZero(format.readRaw(src, zeroOff + (long) p * format.bytes()), scales[p]);
            }
            if (keyLayout) {
                int rowBytes = groupSize / 8;
                for (int c = 0; c < headDim; c++) {
                    int o = outOff + c * groupSize;
                    long p0 = off + (long) c * rowBytes, p1 = off + (long) (headDim + c) * rowBytes;
                    if (axis == QuantAxis.PER_CHANNEL) {
                        PlaneDecoder.twoBit(src, p0, p1, rowBytes, scales[c], zeros[c], out, o);
                    } else {
                        for (int j = 0; j < rowBytes; j++) { // per-token params: lane t has its own
                            int t0 = 8 * j;
                            PlaneDecoder.twoBit(src, p0 + j, p1 + j, 1, 1f, 0f, out, o + t0);
                            for (int i = 0; i < 8; i++) {
                                int pi = (t0 + i) * groupsPerToken + c / channelGroup;
                                out[o + t0 + i] = Math.fma(scales[pi], out[o + t0 + i], zeros[pi]);
                            }
                        }
                    }
                }
            } else {
                int rowBytes = headDim / 8;
                for (int t = 0; t < groupSize; t++) {
                    long p0 = off + (long) (t * 2) * rowBytes, p1 = p0 + rowBytes;
                    int o = outOff + t * headDim;
                    if (axis == QuantAxis.PER_CHANNEL) {
                        PlaneDecoder.twoBitPerLane(src, p0, p1, rowBytes, scales, zeros, out, o);
                    } else {
                        int bytesPerGroup = channelGroup / 8;
                        for (int g = 0; g < groupsPerToken; g++) {
                            int pi = t * groupsPerToken + g;
                            PlaneDecoder.twoBit(src, p0 + (long) g * bytesPerGroup, p1 + (long) g * bytesPerGroup, bytesPerGroup,
                                    scales[pi], zeros[pi], out, o + g * channelGroup);
                        }
                    }
                }
            }
            return;
        }
        if (keyLayout) {
            CodePlanes.unpack(src, off, headDim, groupSize, bits, true, out, outOff);
        } else {
            CodePlanes.unpack(src, off, groupSize, headDim, bits, false, out, outOff);
        }
        for (int p = 0; p < params; p++) {
            float superScale = sup[axis == QuantAxis.PER_CHANNEL ? p : p % groupsPerToken];
            float scale = format.decodeScale(format.readRaw(src, scaleOff + (long) p * format.bytes()), superScale);
            float zero = format.decodeZero(format.readRaw(src, zeroOff + (long) p * format.bytes()), scale);
            if (axis == QuantAxis.PER_CHANNEL) {
                for (int t = 0; t < groupSize; t++) {
                    int i = outOff + (keyLayout ? p * groupSize + t : t * headDim + p);
                    out[i] = Math.fma(scale, out[i], zero);
                }
            } else {
                int t = p / groupsPerToken;
                int c0 = (p % groupsPerToken) * channelGroup;
                for (int c = c0; c < c0 + channelGroup; c++) {
                    int i = outOff + (keyLayout ? c * groupSize + t : t * headDim + c);
                    out[i] = Math.fma(scale, out[i], zero);
                }
            }
        }
    }

    @Override
    public void decodeRows(MemorySegment src, long off, HeadState state, float[] out, int outOff, CodecScratch scratch) {
        if (keyLayout) {
            dequantizeOriented(src, off, state, out, outOff, scratch);
        } else {
            float[] tmp = scratch.transpose;
            dequantizeOriented(src, off, state, tmp, 0, scratch);
            transpose(tmp, groupSize, headDim, out, outOff);
        }
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
        if (keyLayout) {
            float[] tmp = scratch.transpose;
            dequantizeOriented(src, off, state, tmp, 0, scratch);
            transpose(tmp, headDim, groupSize, out, outOff);
        } else {
            dequantizeOriented(src, off, state, out, outOff, scratch);
        }
    }

    static void transpose(float[] in, int rows, int cols, float[] out, int outOff) {
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[outOff + c * rows + r] = in[r * cols + c];
            }
        }
    }
}
