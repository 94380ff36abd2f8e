package io.vidkv.codec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * VidKV values ("1.58-bit", METHOD.md section 3), per channel over a block of G tokens:
 * threshold a = gamma * mean |v| (gamma default 0.7), code = sign(v) if |v| > a else 0, and one
 * scale per (channel, group) = mean |v| over the nonzero codes, which is also the least-squares
 * scale for those codes (minimizes sum (v - s * code)^2). Reconstruction v' = s * code.
 *
 * <p>Protected tokens (semantic token protection) are taken out of the ternary statistics, get
 * ternary code 0, and are stored again at 2 bits per channel with min/max over the protected tokens
 * of the block, compacted at the end of the block.
 *
 * <p>Block layout: G tokens' codes ({@link TernaryPacking#tokenBytes} each, token-major); d scales;
 * then, if protection is enabled: a G-bit mask (G/8 bytes, bit t = token t protected) and, if the
 * mask is not empty, the P protected tokens' 2-bit codes (token-major planes, P * 2 * d/8 bytes),
 * d scales and d zero points.
 */
public final class TernaryValueCodec implements ValueCodec {

    /** TRIT_LUT[i * 8 + k] = trit k of base-3 number i, as -1f, 0f or +1f (digit 0, 1, 2 = 0, +1, -1). */
    static final float[] TRIT_LUT = new float[6561 * 8];

    /**
     * The same trits split for L1-resident decoding: a 13-bit field v = hi * 81 + lo, and
     * {@code TRIT_LO[lo * 8 + k]} holds trits 0-3 of lo in lanes 0-3 (zeros in 4-7),
     * {@code TRIT_HI[hi * 8 + k]} trits 0-3 of hi in lanes 4-7: two 2.6 KB tables instead of one of
     * 210 KB, whose random accesses missed L1 on every field.
     */
    static final float[] TRIT_LO = new float[81 * 8];
    static final float[] TRIT_HI = new float[81 * 8];

    static {
        for (int i = 0; i < 81; i++) {
            int v = i;
            for (int k = 0; k < 4; k++) {
                int digit = v % 3;
                v /= 3;
                float trit = digit == 0 ? 0f : digit == 1 ? 1f : -1f;
                TRIT_LO[i * 8 + k] = trit;
                TRIT_HI[i * 8 + 4 + k] = trit;
            }
        }
        for (int i = 0; i < 6561; i++) {
            int v = i;
            for (int k = 0; k < 8; k++) {
                int digit = v % 3;
                v /= 3;
                TRIT_LUT[i * 8 + k] = digit == 0 ? 0f : digit == 1 ? 1f : -1f;
            }
        }
    }

    private final double gamma;
    private final TernaryPacking packing;
    private final boolean protection;
    private final MetadataFormat format;
    private final int groupSize;
    private final int headDim;
    private final int tokenBytes;

    public TernaryValueCodec(double gamma, TernaryPacking packing, boolean protection, MetadataFormat format,
                             int groupSize, int headDim) {
        if (!(gamma >= 0 && gamma < 10)) {
            throw new IllegalArgumentException("ternary gamma must be in [0, 10), got " + gamma);
        }
        this.gamma = gamma;
        this.packing = packing;
        this.protection = protection;
        this.format = format;
        this.groupSize = groupSize;
        this.headDim = headDim;
        this.tokenBytes = packing.tokenBytes(headDim);
    }

    public TernaryPacking packing() {
        return packing;
    }

    private long codeBytes() {
        return (long) groupSize * tokenBytes;
    }

    @Override
    public long blockBytes(int protectedTokens) {
        long protectedCodes = protection && protectedTokens > 0 ? (long) protectedTokens * 2 * (headDim / 8) : 0;
        return codeBytes() + protectedCodes + metadataBytes(protectedTokens);
    }

    @Override
    public long metadataBytes(int protectedTokens) {
        long m = (long) headDim * format.bytes();
        if (protection) {
            m += groupSize / 8;
            if (protectedTokens > 0) {
                m += 2L * headDim * format.bytes();
            }
        }
        return m;
    }

    @Override
    public boolean supportsProtection() {
        return protection;
    }

    @Override
    public void calibrate(float[] x, int tokens, HeadState state, CodecScratch scratch) {
        if (format != MetadataFormat.COMPACT8) {
            return;
        }
        float global = 0f;
        for (int c = 0; c < headDim; c++) {
            float max = 0f;
            for (int t = 0; t < tokens; t++) {
                max = Math.max(max, Math.abs(x[t * headDim + c]));
            }
            state.valueSuper[c] = max;
            global = Math.max(global, max);
        }
        for (int c = 0; c < headDim; c++) {
            state.valueSuper[c] = HeadState.superScale(state.valueSuper[c], global);
        }
    }

    @Override
    public long encode(float[] x, long protectedMask, HeadState state, MemorySegment dst, long off, CodecScratch s) {
        long mask = protection ? protectedMask & (groupSize == 64 ? -1L : (1L << groupSize) - 1) : 0L;
        int[] codes = s.codes;
        int fb = format.bytes();
        long scaleOff = off + codeBytes();
        int unprotected = groupSize - Long.bitCount(mask);
        for (int c = 0; c < headDim; c++) {
            double sumAbs = 0;
            for (int t = 0; t < groupSize; t++) {
                if ((mask >>> t & 1) == 0) {
                    sumAbs += Math.abs(x[t * headDim + c]);
                }
            }
            double threshold = unprotected == 0 ? Double.POSITIVE_INFINITY : gamma * sumAbs / unprotected;
            double nzSum = 0;
            int nz = 0;
            for (int t = 0; t < groupSize; t++) {
                float v = x[t * headDim + c];
                int code = 0;
                if ((mask >>> t & 1) == 0 && Math.abs(v) > threshold) {
                    code = v > 0 ? 1 : -1;
                    nzSum += Math.abs(v);
                    nz++;
                }
                codes[t * headDim + c] = code;
            }
            int raw = format.encodeScale(nz == 0 ? 0f : (float) (nzSum / nz), state.valueSuper[c]);
            format.writeRaw(dst, scaleOff + (long) c * fb, raw);
        }
        for (int t = 0; t < groupSize; t++) {
            packToken(codes, t, dst, off + (long) t * tokenBytes);
        }
        long end = scaleOff + (long) headDim * fb;
        if (!protection) {
            return end - off;
        }
        for (int b = 0; b < groupSize / 8; b++) {
            dst.set(ValueLayout.JAVA_BYTE, end + b, (byte) (mask >>> (8 * b)));
        }
        end += groupSize / 8;
        int p = Long.bitCount(mask);
        if (p == 0) {
            return end - off;
        }
        // Protected tokens: 2-bit min/max per channel over the P tokens, codes compacted.
        long codesOff = end;
        long pScaleOff = codesOff + (long) p * 2 * (headDim / 8);
        long pZeroOff = pScaleOff + (long) headDim * fb;
        for (int c = 0; c < headDim; c++) {
            float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
            for (int t = 0; t < groupSize; t++) {
                if ((mask >>> t & 1) != 0) {
                    min = Math.min(min, x[t * headDim + c]);
                    max = Math.max(max, x[t * headDim + c]);
                }
            }
            format.minMaxParams(min, max, 4, state.valueSuper[c], s.params, s.raw);
            format.writeRaw(dst, pScaleOff + (long) c * fb, s.raw[0]);
            format.writeRaw(dst, pZeroOff + (long) c * fb, s.raw[1]);
            float inv = s.params[0] > 0f ? 1f / s.params[0] : 0f;
            int i = 0;
            for (int t = 0; t < groupSize; t++) {
                if ((mask >>> t & 1) != 0) {
                    int code = Math.round((x[t * headDim + c] - s.params[1]) * inv);
                    codes[i++ * headDim + c] = Math.max(0, Math.min(3, code));
                }
            }
        }
        CodePlanes.pack(codes, p, headDim, 2, false, dst, codesOff);
        return pZeroOff + (long) headDim * fb - off;
    }

    private void packToken(int[] codes, int t, MemorySegment dst, long off) {
        int base = t * headDim;
        if (packing == TernaryPacking.PLANES) {
            int bytes = headDim / 8;
            for (int j = 0; j < bytes; j++) {
                int nz = 0, neg = 0;
                for (int i = 0; i < 8; i++) {
                    int code = codes[base + j * 8 + i];
                    nz |= (code != 0 ? 1 : 0) << i;
                    neg |= (code < 0 ? 1 : 0) << i;
                }
                dst.set(ValueLayout.JAVA_BYTE, off + j, (byte) nz);
                dst.set(ValueLayout.JAVA_BYTE, off + bytes + j, (byte) neg);
            }
            return;
        }
        for (int b = 0; b < tokenBytes; b++) {
            dst.set(ValueLayout.JAVA_BYTE, off + b, (byte) 0);
        }
        for (int f = 0; f < headDim / 8; f++) {
            int v = 0;
            for (int k = 7; k >= 0; k--) {
                int code = codes[base + f * 8 + k];
                v = v * 3 + (code == 0 ? 0 : code > 0 ? 1 : 2);
            }
            int bit = f * 13;
            for (int i = 0; i < 13; i++, bit++) {
                if ((v >>> i & 1) != 0) {
                    long at = off + (bit >>> 3);
                    dst.set(ValueLayout.JAVA_BYTE, at, (byte) (dst.get(ValueLayout.JAVA_BYTE, at) | 1 << (bit & 7)));
                }
            }
        }
    }

    @Override
    public void decode(MemorySegment src, long off, HeadState state, float[] out, int outOff, CodecScratch s) {
        int fb = format.bytes();
        long scaleOff = off + codeBytes();
        float[] scale = s.f1; // free here: decode never runs inside encode
        for (int c = 0; c < headDim; c++) {
            scale[c] = format.decodeScale(format.readRaw(src, scaleOff + (long) c * fb), state.valueSuper[c]);
        }
        for (int t = 0; t < groupSize; t++) {
            long tok = off + (long) t * tokenBytes;
            int o = outOff + t * headDim;
            if (packing == TernaryPacking.PLANES) {
                int bytes = headDim / 8;
                PlaneDecoder.ternaryPlanes(src, tok, tok + bytes, bytes, scale, out, o);
            } else {
                PlaneDecoder.ternaryBase3(src, tok, headDim / 8, scale, out, o);
            }
        }
        if (!protection) {
            return;
        }
        long maskOff = scaleOff + (long) headDim * fb;
        long mask = 0;
        for (int b = 0; b < groupSize / 8; b++) {
            mask |= (long) (src.get(ValueLayout.JAVA_BYTE, maskOff + b) & 0xFF) << (8 * b);
        }
        int p = Long.bitCount(mask);
        if (p == 0) {
            return;
        }
        long codesOff = maskOff + groupSize / 8;
        long pScaleOff = codesOff + (long) p * 2 * (headDim / 8);
        long pZeroOff = pScaleOff + (long) headDim * fb;
        for (int c = 0; c < headDim; c++) {
            float sc = format.decodeScale(format.readRaw(src, pScaleOff + (long) c * fb), state.valueSuper[c]);
            scale[c] = sc;
            s.f2[c] = format.decodeZero(format.readRaw(src, pZeroOff + (long) c * fb), sc);
        }
        int i = 0;
        int bytes = headDim / 8;
        for (int t = 0; t < groupSize; t++) {
            if ((mask >>> t & 1) == 0) {
                continue;
            }
            long tok = codesOff + (long) i++ * 2 * bytes;
            PlaneDecoder.twoBitPerLane(src, tok, tok + bytes, bytes, scale, s.f2, out, outOff + t * headDim);
        }
    }
}
