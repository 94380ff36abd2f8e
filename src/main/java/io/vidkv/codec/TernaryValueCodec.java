package io.vidkv.codec;

import io.vidkv.TernaryPacking;
import io.vidkv.layout.TernaryLayout;

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
 * <p>Block layout: {@link TernaryLayout}.
 */
public final class TernaryValueCodec implements ValueCodec {

    /** TRITS[v * 5 + k] = trit k (as -1, 0 or 1) of a base-3 byte v < 243. */
    private static final float[] TRITS = new float[243 * 5];

    static {
        for (int v = 0; v < 243; v++) {
            for (int k = 0, x = v; k < 5; k++, x /= 3) {
                TRITS[v * 5 + k] = trit(x % 3);
            }
        }
    }

    /** Trit digit of a code: 0 is 0, 1 is +1, 2 is -1 ({@link TernaryLayout}). */
    static int digit(int code) {
        return code == 0 ? 0 : code > 0 ? 1 : 2;
    }

    /** Code of a trit digit. */
    static int trit(int digit) {
        return digit == 0 ? 0 : digit == 1 ? 1 : -1;
    }

    private final double gamma;
    /** Threshold by least squares (per (channel, group)) instead of gamma x mean |v|. */
    private final boolean leastSquares;
    private final TernaryPacking packing;
    private final boolean protection;
    private final MetadataCodes format;
    private final int groupSize;
    private final int headDim;
    private final TernaryLayout layout;
    private final EncodeMath encoder;

    public TernaryValueCodec(double gamma, TernaryPacking packing, boolean protection, MetadataCodes format,
                             int groupSize, int headDim) {
        this(gamma, false, packing, protection, format, groupSize, headDim);
    }

    /** With the threshold rule: {@code leastSquares} true for {@link io.vidkv.TernaryThreshold#LEAST_SQUARES}. */
    public TernaryValueCodec(double gamma, boolean leastSquares, TernaryPacking packing, boolean protection, MetadataCodes format,
                             int groupSize, int headDim) {
        this(gamma, leastSquares, packing, protection, format, groupSize, headDim, EncodeMath.chosen());
    }

    /** With the encoder body to use (the tests compare both). */
    TernaryValueCodec(double gamma, boolean leastSquares, TernaryPacking packing, boolean protection, MetadataCodes format,
                      int groupSize, int headDim, EncodeMath encoder) {
        this.encoder = encoder;
        if (!(gamma >= 0 && gamma < 10)) {
            throw new IllegalArgumentException("ternary gamma must be in [0, 10), got " + gamma);
        }
        this.gamma = gamma;
        this.leastSquares = leastSquares;
        this.packing = packing;
        this.protection = protection;
        this.format = format;
        this.groupSize = groupSize;
        this.headDim = headDim;
        this.layout = new TernaryLayout(packing == TernaryPacking.BASE3, protection, groupSize, headDim, format.bytes());
    }

    public TernaryPacking packing() {
        return packing;
    }

    /** The block layout this codec writes and the kernel reads. */
    public TernaryLayout layout() {
        return layout;
    }

    public MetadataCodes format() {
        return format;
    }

    @Override
    public long blockBytes(int protectedTokens) {
        return layout.blockBytes(protectedTokens);
    }

    @Override
    public long metadataBytes(int protectedTokens) {
        return layout.metadataBytes(protectedTokens);
    }

    @Override
    public boolean supportsProtection() {
        return protection;
    }

    @Override
    public void calibrate(float[] x, int tokens, HeadState state, CodecScratch scratch) {
        if (format != MetadataCodes.COMPACT8) {
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
        // A super-scale per channel, as 8-bit codes under the largest: one per head would leave a
        // channel far quieter than the loudest (its protected tokens' 2-bit range most of all) with
        // scales rounded up to the format's smallest (CodecTest's protected tokens found it)
        HeadState.roundToCodes(state.valueSuper, 0, headDim);
    }

    /** COMPACT8: the channel super-scales as codes under one FP16 reference. */
    @Override
    public long stateBytes() {
        return format == MetadataCodes.COMPACT8 ? HeadState.codedBytes(headDim) : 0;
    }

    /**
     * The threshold whose codes (sign(v) where |v| is above it) with their least-squares scale (mean
     * |v| over the nonzero codes) leave the smallest squared error in channel c of the group: keeping
     * the k largest |v| saves (S_k)^2 / k of the group's sum of squares, S_k their sum, so the best k
     * maximizes that. Ties go to the smaller k (fewer nonzero codes). Returns a value strictly
     * between the k-th and (k+1)-th largest |v| when they differ, -1 when every value is kept.
     */
    private double leastSquaresThreshold(float[] x, int c, long mask, float[] mag) {
        int n = 0;
        for (int t = 0; t < groupSize; t++) {
            if ((mask >>> t & 1) == 0) {
                mag[n++] = Math.abs(x[t * headDim + c]);
            }
        }
        // ascending insertion sort: n is at most G (64), and Arrays.sort allocates from 48 elements up
        for (int i = 1; i < n; i++) {
            float m = mag[i];
            int j = i - 1;
            while (j >= 0 && mag[j] > m) {
                mag[j + 1] = mag[j];
                j--;
            }
            mag[j + 1] = m;
        }
        double best = 0, sum = 0;
        int bestK = 0;
        for (int k = 1; k <= n; k++) {
            sum += mag[n - k];
            double saved = sum * sum / k;
            if (saved > best) {
                best = saved;
                bestK = k;
            }
        }
        if (bestK == n) {
            return -1; // every value nonzero (|v| > -1 always)
        }
        // codes are |v| > threshold: the (bestK+1)-th largest is the threshold itself, so it and every
        // equal magnitude are zero; equal magnitudes at the boundary all stay on one side
        return mag[n - bestK - 1];
    }

    @Override
    public long encode(float[] x, long protectedMask, HeadState state, MemorySegment dst, long off, CodecScratch s) {
        long mask = protection ? protectedMask & (groupSize == 64 ? -1L : (1L << groupSize) - 1) : 0L;
        int p = Long.bitCount(mask);
        BitStrings.clear(dst, off, layout.blockBytes(p));
        int[] codes = s.codes; // codes[t * d + c] in {-1, 0, 1} (PLANES only)
        int unprotected = groupSize - p;
        // every channel's threshold (the mean |v| pass in one vector loop), then every channel's codes,
        // nonzero sums and base-3 digits in a second; both sum in double in token order
        if (!leastSquares) {
            encoder.absSums(x, headDim, groupSize, mask, s.channelSums);
        }
        for (int c = 0; c < headDim; c++) {
            double threshold = unprotected == 0 ? Double.POSITIVE_INFINITY
                    : leastSquares ? leastSquaresThreshold(x, c, mask, s.magnitudes) : gamma * s.channelSums[c] / unprotected;
            s.thresholds[c] = floatAtOrBelow(threshold);
        }
        boolean base3 = layout.base3();
        encoder.ternary(x, headDim, groupSize, mask, s.thresholds, s.channelSums, s.channelCounts, s.trits,
                base3 ? null : codes);
        for (int c = 0; c < headDim; c++) {
            int nz = s.channelCounts[c];
            int raw = format.encodeScale(nz == 0 ? 0f : (float) (s.channelSums[c] / nz), state.valueSuper[c]);
            format.writeRaw(dst, off + layout.scale(c), raw);
        }
        if (base3) {
            // the base-3 bytes staged on the heap and copied into the page at once (not a segment
            // write per byte and a read-modify-write per tail bit)
            byte[] staged = s.bytes;
            int q = layout.fullBytes(), w = layout.tailBits();
            int codeBytes = (int) layout.codeBytes();
            int[] trits = s.trits;
            for (int i = 0; i < q; i++) { // whole bytes: channel c's byte i at c q + i
                for (int c = 0; c < headDim; c++) {
                    staged[c * q + i] = (byte) trits[i * headDim + c];
                }
            }
            // the tails: w bits at bit c w of the string after the whole bytes
            BitStrings.packFields(trits, q * headDim, w == 0 ? 0 : headDim, w, staged, headDim * q);
            MemorySegment.copy(staged, 0, dst, ValueLayout.JAVA_BYTE, off, codeBytes);
        } else {
            packPlanes(codes, dst, off);
        }
        if (!protection) {
            return layout.blockBytes(0);
        }
        BitStrings.setWord(dst, off + layout.mask(), groupSize, mask);
        if (p == 0) {
            return layout.blockBytes(0);
        }
        // Protected tokens: gathered in token order, then 2-bit min/max per channel over the P tokens.
        float[] rows = s.f2;
        int i = 0;
        for (int t = 0; t < groupSize; t++) {
            if ((mask >>> t & 1) != 0) {
                System.arraycopy(x, t * headDim, rows, i++ * headDim, headDim);
            }
        }
        encoder.channelMinMax(rows, headDim, p, s.channelLow, s.channelHigh);
        MinMaxCodes.channelParams(rows, headDim, p, null, headDim, 4, format, state.valueSuper, dst,
                off + layout.protectedScale(p, 0), off + layout.protectedZero(p, 0),
                layout.protectedScale(p, 1) - layout.protectedScale(p, 0), s, false);
        encoder.channelCodes(rows, headDim, p, s.channelZero, s.channelInv, 4, codes);
        for (i = 0; i < p; i++) { // each protected token's two planes over the channels, a byte at a time
            for (int plane = 0; plane < 2; plane++) {
                long at = off + layout.protectedPlane(i, plane);
                for (int c0 = 0; c0 < headDim; c0 += 8) {
                    int b = 0;
                    for (int k = 0; k < 8 && c0 + k < headDim; k++) {
                        b |= (codes[i * headDim + c0 + k] >>> plane & 1) << k;
                    }
                    long byteAt = at + (c0 >>> 3);
                    dst.set(ValueLayout.JAVA_BYTE, byteAt, (byte) (dst.get(ValueLayout.JAVA_BYTE, byteAt) | b));
                }
            }
        }
        return layout.blockBytes(p);
    }

    /**
     * The largest float at or below v: for a float a, a &gt; v exactly when a &gt; floatAtOrBelow(v), so
     * the ternary comparisons can run in float lanes.
     */
    static float floatAtOrBelow(double v) {
        float f = (float) v;
        return f > v ? Math.nextDown(f) : f;
    }

    private void packPlanes(int[] codes, MemorySegment dst, long off) {
        for (int c = 0; c < headDim; c++) {
            for (int t = 0; t < groupSize; t++) {
                int code = codes[t * headDim + c];
                BitStrings.set(dst, off + layout.nonzeroPlane(c), t, code != 0 ? 1 : 0);
                BitStrings.set(dst, off + layout.negativePlane(c), t, code < 0 ? 1 : 0);
            }
        }
    }


    @Override
    public void decode(MemorySegment src, long off, HeadState state, float[] out, int outOff, CodecScratch s) {
        float[] scales = s.work;
        format.decodeScales(src, off + layout.scale(0), headDim, state.valueSuper, 0, scales, 0);
        for (int c = 0; c < headDim; c++) {
            if (!layout.base3()) {
                for (int t = 0; t < groupSize; t++) {
                    int nz = BitStrings.get(src, off + layout.nonzeroPlane(c), t);
                    int neg = BitStrings.get(src, off + layout.negativePlane(c), t);
                    out[outOff + t * headDim + c] = scales[c] * (nz == 0 ? 0 : neg != 0 ? -1 : 1);
                }
                continue;
            }
            // five trits a byte, then the tail (TernaryLayout); TRITS[v * 5 + k] = trit k of v
            for (int i = 0; i <= layout.fullBytes(); i++) {
                int t0 = 5 * i, n = Math.min(5, groupSize - t0);
                if (n <= 0) {
                    break;
                }
                int v = i < layout.fullBytes() ? src.get(ValueLayout.JAVA_BYTE, off + layout.trits(c, i)) & 0xFF
                        : BitStrings.getField(src, off + layout.tail(), (long) c * layout.tailBits(), layout.tailBits());
                for (int k = 0; k < n; k++) {
                    out[outOff + (t0 + k) * headDim + c] = scales[c] * TRITS[v * 5 + k];
                }
            }
        }
        if (!protection) {
            return;
        }
        long mask = 0;
        for (int t = 0; t < groupSize; t++) {
            mask |= (long) BitStrings.get(src, off + layout.mask(), t) << t;
        }
        int p = Long.bitCount(mask);
        if (p == 0) {
            return;
        }
        for (int c = 0; c < headDim; c++) {
            float scale = format.decodeScale(format.readRaw(src, off + layout.protectedScale(p, c)), state.valueSuper[c]);
            float zero = format.decodeZero(format.readRaw(src, off + layout.protectedZero(p, c)), scale);
            int i = 0;
            for (int t = 0; t < groupSize; t++) {
                if ((mask >>> t & 1) != 0) {
                    int code = BitStrings.get(src, off + layout.protectedPlane(i, 0), c)
                            + 2 * BitStrings.get(src, off + layout.protectedPlane(i, 1), c);
                    out[outOff + t * headDim + c] = Math.fma(scale, code, zero);
                    i++;
                }
            }
        }
    }
}
