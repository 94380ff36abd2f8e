package io.vidkv.codec;

import io.vidkv.InputType;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * The Vector API body of {@link EncodeMath}, explicit 256-bit vectors (AVX2): channels in the eight
 * float lanes, the token loop inside, so every per-channel sum runs in token order as in
 * {@link ScalarEncodeMath} (doubles as two four-lane halves) and every word is built by shifting
 * each token's bit into an int lane. Channels beyond the last whole vector go through the scalar
 * body. Codes: clamp first, then truncation (exact for the clamped, non-negative value) plus one if
 * the fraction is at least 1/2, which is {@link Math#round(float)} of the clamped value. Vectors
 * never cross a call that might not be inlined (KERNEL-NOTES.md).
 */
public final class PanamaEncodeMath implements EncodeMath {

    static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    static final VectorSpecies<Double> D = DoubleVector.SPECIES_256;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    private static final VectorSpecies<Long> L = LongVector.SPECIES_256;
    private static final VectorSpecies<Short> S = ShortVector.SPECIES_256;
    static final int W = 8;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** Inputs of fewer elements are checked by the scalar loop. */
    static final int SMALL_CHECK = 4096;

    /** Whether the platform has 256-bit vectors. */
    public static boolean available() {
        return FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 256;
    }

    @Override
    public String name() {
        return "Vector API 256-bit";
    }

    /** Whole vectors of channels in [0, d). */
    static int whole(int d) {
        return d - d % W;
    }

    @Override
    public void channelMinMax(float[] x, int d, int tokens, float[] min, float[] max) {
        for (int c0 = 0; c0 < whole(d); c0 += W) {
            channelMinMax8(x, d, tokens, c0, min, max);
        }
        ScalarEncodeMath.channelMinMax(whole(d), x, d, tokens, min, max);
    }

    private static void channelMinMax8(float[] x, int d, int tokens, int c0, float[] min, float[] max) {
        FloatVector lo = FloatVector.broadcast(F, Float.POSITIVE_INFINITY);
        FloatVector hi = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (int t = 0; t < tokens; t++) {
            FloatVector v = FloatVector.fromArray(F, x, t * d + c0);
            lo = lo.min(v);
            hi = hi.max(v);
        }
        lo.intoArray(min, c0);
        hi.intoArray(max, c0);
    }

    /*
     * The code of each lane, clamp(round(y), 0, top) for y = (v - zero) * inv, is written out where it
     * is used, as are the words' stores: a helper taking or returning vectors that C2 does not inline
     * boxes them (KERNEL-NOTES.md, pitfall 1; here it showed as 2 KiB per block). Clamp first (NaN
     * stays NaN and converts to 0), truncate (exact for the clamped value), add one where the fraction
     * is at least 1/2.
     */

    @Override
    public void twoBitWords(float[] x, int d, int tokens, float[] zero, float[] inv, long[] low, long[] high) {
        for (int c0 = 0; c0 < whole(d); c0 += W) {
            for (int half = 0; half < tokens; half += 32) {
                twoBitWords8(x, d, half, Math.min(tokens, half + 32), c0, zero, inv, low, high);
            }
        }
        ScalarEncodeMath.twoBitWords(whole(d), x, d, tokens, zero, inv, low, high);
    }

    /** Tokens [from, to), at most 32: their bits into bits [from, to) of the channels' words (from 0: replaced). */
    private static void twoBitWords8(float[] x, int d, int from, int to, int c0, float[] zero, float[] inv, long[] low,
                                     long[] high) {
        FloatVector z = FloatVector.fromArray(F, zero, c0);
        FloatVector iv = FloatVector.fromArray(F, inv, c0);
        IntVector lo = IntVector.zero(I), hi = IntVector.zero(I);
        for (int t = from; t < to; t++) {
            FloatVector y = FloatVector.fromArray(F, x, t * d + c0).sub(z).mul(iv).max(0f).min(3f);
            IntVector trunc = (IntVector) y.convert(VectorOperators.F2I, 0);
            IntVector code = trunc.add(1, y.sub((FloatVector) trunc.convert(VectorOperators.I2F, 0))
                    .compare(VectorOperators.GE, 0.5f).cast(I));
            lo = lo.or(code.and(1).lanewise(VectorOperators.LSHL, t - from));
            hi = hi.or(code.lanewise(VectorOperators.LSHR, 1).lanewise(VectorOperators.LSHL, t - from));
        }
        // Both halves written out: convertShape's part must be a constant when C2 parses the call, or
        // the conversion runs as allocating Java code (a loop over part is not unrolled yet then).
        LongVector l0 = ((LongVector) lo.convertShape(VectorOperators.I2L, L, 0)).and(0xFFFFFFFFL).lanewise(VectorOperators.LSHL, from);
        LongVector h0 = ((LongVector) hi.convertShape(VectorOperators.I2L, L, 0)).and(0xFFFFFFFFL).lanewise(VectorOperators.LSHL, from);
        LongVector l1 = ((LongVector) lo.convertShape(VectorOperators.I2L, L, 1)).and(0xFFFFFFFFL).lanewise(VectorOperators.LSHL, from);
        LongVector h1 = ((LongVector) hi.convertShape(VectorOperators.I2L, L, 1)).and(0xFFFFFFFFL).lanewise(VectorOperators.LSHL, from);
        if (from > 0) {
            l0 = l0.or(LongVector.fromArray(L, low, c0));
            h0 = h0.or(LongVector.fromArray(L, high, c0));
            l1 = l1.or(LongVector.fromArray(L, low, c0 + 4));
            h1 = h1.or(LongVector.fromArray(L, high, c0 + 4));
        }
        l0.intoArray(low, c0);
        h0.intoArray(high, c0);
        l1.intoArray(low, c0 + 4);
        h1.intoArray(high, c0 + 4);
    }

    @Override
    public void channelCodes(float[] x, int d, int tokens, float[] zero, float[] inv, int levels, int[] codes) {
        for (int c0 = 0; c0 < whole(d); c0 += W) {
            channelCodes8(x, d, tokens, c0, zero, inv, levels - 1, codes);
        }
        ScalarEncodeMath.channelCodes(whole(d), x, d, tokens, zero, inv, levels, codes);
    }

    private static void channelCodes8(float[] x, int d, int tokens, int c0, float[] zero, float[] inv, float top, int[] codes) {
        FloatVector z = FloatVector.fromArray(F, zero, c0);
        FloatVector iv = FloatVector.fromArray(F, inv, c0);
        for (int t = 0; t < tokens; t++) {
            FloatVector y = FloatVector.fromArray(F, x, t * d + c0).sub(z).mul(iv).max(0f).min(top);
            IntVector trunc = (IntVector) y.convert(VectorOperators.F2I, 0);
            trunc.add(1, y.sub((FloatVector) trunc.convert(VectorOperators.I2F, 0)).compare(VectorOperators.GE, 0.5f).cast(I))
                    .intoArray(codes, t * d + c0);
        }
    }

    @Override
    public void fitSums(float[] x, int d, int tokens, float[] zero, float[] scale, float[] inv, int levels, double[] sums,
                        double[] errors) {
        for (int c0 = 0; c0 < whole(d); c0 += W) {
            fitSums8(x, d, tokens, c0, zero, scale, inv, levels - 1, sums, errors);
        }
        ScalarEncodeMath.fitSums(whole(d), x, d, tokens, zero, scale, inv, levels, sums, errors);
    }

    private static void fitSums8(float[] x, int d, int tokens, int c0, float[] zero, float[] scale, float[] inv, float top,
                                 double[] sums, double[] errors) {
        FloatVector z = FloatVector.fromArray(F, zero, c0);
        FloatVector iv = FloatVector.fromArray(F, inv, c0);
        FloatVector sc = FloatVector.fromArray(F, scale, c0);
        DoubleVector z0 = (DoubleVector) z.convertShape(VectorOperators.F2D, D, 0);
        DoubleVector z1 = (DoubleVector) z.convertShape(VectorOperators.F2D, D, 1);
        DoubleVector s0 = (DoubleVector) sc.convertShape(VectorOperators.F2D, D, 0);
        DoubleVector s1 = (DoubleVector) sc.convertShape(VectorOperators.F2D, D, 1);
        DoubleVector e0 = DoubleVector.zero(D), e1 = DoubleVector.zero(D);
        DoubleVector c0s = DoubleVector.zero(D), c1s = DoubleVector.zero(D), cc0 = DoubleVector.zero(D), cc1 = DoubleVector.zero(D);
        DoubleVector x0s = DoubleVector.zero(D), x1s = DoubleVector.zero(D), cx0 = DoubleVector.zero(D), cx1 = DoubleVector.zero(D);
        for (int t = 0; t < tokens; t++) {
            FloatVector v = FloatVector.fromArray(F, x, t * d + c0);
            FloatVector y = v.sub(z).mul(iv).max(0f).min(top);
            IntVector trunc = (IntVector) y.convert(VectorOperators.F2I, 0);
            IntVector code = trunc.add(1, y.sub((FloatVector) trunc.convert(VectorOperators.I2F, 0)).compare(VectorOperators.GE, 0.5f)
                    .cast(I));
            // codes are small integers: int -> double is exact, so is their square
            DoubleVector k0 = (DoubleVector) code.convertShape(VectorOperators.I2D, D, 0);
            DoubleVector k1 = (DoubleVector) code.convertShape(VectorOperators.I2D, D, 1);
            DoubleVector v0 = (DoubleVector) v.convertShape(VectorOperators.F2D, D, 0);
            DoubleVector v1 = (DoubleVector) v.convertShape(VectorOperators.F2D, D, 1);
            c0s = c0s.add(k0);
            c1s = c1s.add(k1);
            cc0 = cc0.add(k0.mul(k0));
            cc1 = cc1.add(k1.mul(k1));
            x0s = x0s.add(v0);
            x1s = x1s.add(v1);
            cx0 = cx0.add(k0.mul(v0));
            cx1 = cx1.add(k1.mul(v1));
            // the squared error of these parameters, as squaredErrors8 takes it (no fused multiply-add)
            DoubleVector r0 = z0.add(s0.mul(k0)).sub(v0);
            DoubleVector r1 = z1.add(s1.mul(k1)).sub(v1);
            e0 = e0.add(r0.mul(r0));
            e1 = e1.add(r1.mul(r1));
        }
        e0.intoArray(errors, c0);
        e1.intoArray(errors, c0 + 4);
        c0s.intoArray(sums, c0);
        c1s.intoArray(sums, c0 + 4);
        cc0.intoArray(sums, d + c0);
        cc1.intoArray(sums, d + c0 + 4);
        x0s.intoArray(sums, 2 * d + c0);
        x1s.intoArray(sums, 2 * d + c0 + 4);
        cx0.intoArray(sums, 3 * d + c0);
        cx1.intoArray(sums, 3 * d + c0 + 4);
    }

    @Override
    public void squaredErrors(float[] x, int d, int tokens, float[] zero, float[] scale, float[] inv, int levels,
                              double[] errors) {
        for (int c0 = 0; c0 < whole(d); c0 += W) {
            squaredErrors8(x, d, tokens, c0, zero, scale, inv, levels - 1, errors);
        }
        ScalarEncodeMath.squaredErrors(whole(d), x, d, tokens, zero, scale, inv, levels, errors);
    }

    private static void squaredErrors8(float[] x, int d, int tokens, int c0, float[] zero, float[] scale, float[] inv, float top,
                                       double[] errors) {
        FloatVector z = FloatVector.fromArray(F, zero, c0);
        FloatVector iv = FloatVector.fromArray(F, inv, c0);
        FloatVector sc = FloatVector.fromArray(F, scale, c0);
        DoubleVector z0 = (DoubleVector) z.convertShape(VectorOperators.F2D, D, 0);
        DoubleVector z1 = (DoubleVector) z.convertShape(VectorOperators.F2D, D, 1);
        DoubleVector s0 = (DoubleVector) sc.convertShape(VectorOperators.F2D, D, 0);
        DoubleVector s1 = (DoubleVector) sc.convertShape(VectorOperators.F2D, D, 1);
        DoubleVector e0 = DoubleVector.zero(D), e1 = DoubleVector.zero(D);
        for (int t = 0; t < tokens; t++) {
            FloatVector v = FloatVector.fromArray(F, x, t * d + c0);
            FloatVector y = v.sub(z).mul(iv).max(0f).min(top);
            IntVector trunc = (IntVector) y.convert(VectorOperators.F2I, 0);
            IntVector code = trunc.add(1, y.sub((FloatVector) trunc.convert(VectorOperators.I2F, 0)).compare(VectorOperators.GE, 0.5f)
                    .cast(I));
            // r = zero + scale * code - x in double, in the scalar order (no fused multiply-add)
            DoubleVector r0 = z0.add(s0.mul((DoubleVector) code.convertShape(VectorOperators.I2D, D, 0)))
                    .sub((DoubleVector) v.convertShape(VectorOperators.F2D, D, 0));
            DoubleVector r1 = z1.add(s1.mul((DoubleVector) code.convertShape(VectorOperators.I2D, D, 1)))
                    .sub((DoubleVector) v.convertShape(VectorOperators.F2D, D, 1));
            e0 = e0.add(r0.mul(r0));
            e1 = e1.add(r1.mul(r1));
        }
        e0.intoArray(errors, c0);
        e1.intoArray(errors, c0 + 4);
    }

    @Override
    public void codes(float[] x, int base, int n, float zero, float inv, int levels, int[] codes, int codeBase) {
        FloatVector z = FloatVector.broadcast(F, zero);
        FloatVector iv = FloatVector.broadcast(F, inv);
        float top = levels - 1;
        int i = 0;
        for (; i < whole(n); i += W) {
            FloatVector y = FloatVector.fromArray(F, x, base + i).sub(z).mul(iv).max(0f).min(top);
            IntVector trunc = (IntVector) y.convert(VectorOperators.F2I, 0);
            trunc.add(1, y.sub((FloatVector) trunc.convert(VectorOperators.I2F, 0)).compare(VectorOperators.GE, 0.5f).cast(I))
                    .intoArray(codes, codeBase + i);
        }
        ScalarEncodeMath.codes(i, x, base, n, zero, inv, levels, codes, codeBase);
    }

    @Override
    public void minMax(float[] x, int base, int n, float[] out) {
        float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
        int i = 0;
        if (n >= W) {
            FloatVector vlo = FloatVector.broadcast(F, Float.POSITIVE_INFINITY);
            FloatVector vhi = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            for (; i < whole(n); i += W) {
                FloatVector v = FloatVector.fromArray(F, x, base + i);
                vlo = vlo.min(v);
                vhi = vhi.max(v);
            }
            lo = vlo.reduceLanes(VectorOperators.MIN);
            hi = vhi.reduceLanes(VectorOperators.MAX);
        }
        ScalarEncodeMath.minMax(i, lo, hi, x, base, n, out);
    }

    @Override
    public void planeWords(int[] codes, int d, int tokens, int bits, long[] words) {
        if (tokens > 32 || d % W != 0) {
            ScalarEncodeMath.planeWordsAll(codes, d, tokens, bits, words);
            return;
        }
        for (int c0 = 0; c0 < d; c0 += W) {
            for (int p = 0; p < bits; p++) {
                planeWords8(codes, d, tokens, bits, c0, p, words);
            }
        }
    }

    private static void planeWords8(int[] codes, int d, int tokens, int bits, int c0, int p, long[] words) {
        IntVector w = IntVector.zero(I);
        for (int t = 0; t < tokens; t++) {
            IntVector code = IntVector.fromArray(I, codes, t * d + c0);
            w = w.or(code.lanewise(VectorOperators.LSHR, p).and(1).lanewise(VectorOperators.LSHL, t));
        }
        // words[(c0 + lane) * bits + p]: a strided store. Both halves written out (a constant part, see
        // twoBitWords8).
        LongVector w0 = ((LongVector) w.convertShape(VectorOperators.I2L, L, 0)).and(0xFFFFFFFFL);
        LongVector w1 = ((LongVector) w.convertShape(VectorOperators.I2L, L, 1)).and(0xFFFFFFFFL);
        words[c0 * bits + p] = w0.lane(0);
        words[(c0 + 1) * bits + p] = w0.lane(1);
        words[(c0 + 2) * bits + p] = w0.lane(2);
        words[(c0 + 3) * bits + p] = w0.lane(3);
        words[(c0 + 4) * bits + p] = w1.lane(0);
        words[(c0 + 5) * bits + p] = w1.lane(1);
        words[(c0 + 6) * bits + p] = w1.lane(2);
        words[(c0 + 7) * bits + p] = w1.lane(3);
    }

    @Override
    public void absSums(float[] x, int d, int tokens, long skip, double[] sums) {
        for (int c0 = 0; c0 < whole(d); c0 += W) {
            absSums8(x, d, tokens, skip, c0, sums);
        }
        ScalarEncodeMath.absSums(whole(d), x, d, tokens, skip, sums);
    }

    private static void absSums8(float[] x, int d, int tokens, long skip, int c0, double[] sums) {
        DoubleVector s0 = DoubleVector.zero(D), s1 = DoubleVector.zero(D);
        for (int t = 0; t < tokens; t++) {
            if ((skip >>> t & 1) == 0) {
                FloatVector a = FloatVector.fromArray(F, x, t * d + c0).abs();
                s0 = s0.add((DoubleVector) a.convertShape(VectorOperators.F2D, D, 0));
                s1 = s1.add((DoubleVector) a.convertShape(VectorOperators.F2D, D, 1));
            }
        }
        s0.intoArray(sums, c0);
        s1.intoArray(sums, c0 + 4);
    }

    @Override
    public void ternary(float[] x, int d, int tokens, long skip, float[] thresholds, double[] sums, int[] counts, int[] trits,
                        int[] codes) {
        for (int c0 = 0; c0 < whole(d); c0 += W) {
            ternary8(x, d, tokens, skip, c0, thresholds, sums, counts, trits, codes);
        }
        ScalarEncodeMath.ternary(whole(d), x, d, tokens, skip, thresholds, sums, counts, trits, codes);
    }

    private static void ternary8(float[] x, int d, int tokens, long skip, int c0, float[] thresholds, double[] sums,
                                 int[] counts, int[] trits, int[] codes) {
        FloatVector threshold = FloatVector.fromArray(F, thresholds, c0);
        DoubleVector s0 = DoubleVector.zero(D), s1 = DoubleVector.zero(D);
        IntVector nz = IntVector.zero(I), digits = IntVector.zero(I);
        int pow = 1;
        for (int t = 0; t < tokens; t++) {
            // a skipped (protected) token adds nothing and has code 0; branching around it keeps masks
            // out of phis (a mask merged from two definitions was not intrinsified: it boxed per token)
            if ((skip >>> t & 1) == 0) {
                FloatVector v = FloatVector.fromArray(F, x, t * d + c0);
                FloatVector av = v.abs();
                VectorMask<Float> kept = av.compare(VectorOperators.GT, threshold);
                // adding +0.0 for the values not kept leaves the sums unchanged, as in the scalar body
                FloatVector keptAbs = FloatVector.zero(F).blend(av, kept);
                s0 = s0.add((DoubleVector) keptAbs.convertShape(VectorOperators.F2D, D, 0));
                s1 = s1.add((DoubleVector) keptAbs.convertShape(VectorOperators.F2D, D, 1));
                VectorMask<Integer> k = kept.cast(I);
                VectorMask<Integer> positive = v.compare(VectorOperators.GT, 0f).cast(I);
                nz = nz.add(1, k);
                IntVector digit = IntVector.zero(I).blend(2, k).blend(1, k.and(positive));
                digits = digits.add(digit.mul(pow));
                if (codes != null) {
                    IntVector.zero(I).blend(-1, k).blend(1, k.and(positive)).intoArray(codes, t * d + c0);
                }
            } else if (codes != null) {
                IntVector.zero(I).intoArray(codes, t * d + c0);
            }
            pow *= 3;
            if (t % 5 == 4 || t == tokens - 1) {
                digits.intoArray(trits, t / 5 * d + c0);
                digits = IntVector.zero(I);
                pow = 1;
            }
        }
        s0.intoArray(sums, c0);
        s1.intoArray(sums, c0 + 4);
        nz.intoArray(counts, c0);
    }

    // Ternary values per token: tokens in the lanes for their statistics (PanamaTokenMath)

    @Override
    public void normalize(float[] x, int d, int tokens, float[] n, float[] rows, float[] cols) {
        PanamaTokenMath.normalize(x, d, tokens, n, rows, cols);
    }

    @Override
    public void tokenSumsAbove(float[] cols, int d, int tokens, float[] above, double[] sums, int[] counts) {
        PanamaTokenMath.tokenSumsAbove(cols, d, tokens, above, sums, counts);
    }

    @Override
    public void sortKeys(int[] keys, int n, int[] ranks, int[] sorted) {
        PanamaTokenMath.sortKeys(keys, n, ranks, sorted);
    }

    @Override
    public void tokenTrits(float[] rows, int d, int tokens, float[] above, int[] trits) {
        PanamaTokenMath.tokenTrits(rows, d, tokens, above, trits);
    }

    @Override
    public void signWords(float[] y, int n, int tokens, double[] sums, long[] words) {
        for (int j0 = 0; j0 < whole(n); j0 += W) {
            signWords8(y, n, tokens, j0, sums, words);
        }
        ScalarEncodeMath.signWords(whole(n), y, n, tokens, sums, words);
    }

    private static void signWords8(float[] y, int n, int tokens, int j0, double[] sums, long[] words) {
        DoubleVector s0 = DoubleVector.zero(D), s1 = DoubleVector.zero(D);
        IntVector w0 = IntVector.zero(I), w1 = IntVector.zero(I);
        for (int t = 0; t < tokens; t++) {
            FloatVector v = FloatVector.fromArray(F, y, t * n + j0);
            FloatVector a = v.abs();
            s0 = s0.add((DoubleVector) a.convertShape(VectorOperators.F2D, D, 0));
            s1 = s1.add((DoubleVector) a.convertShape(VectorOperators.F2D, D, 1));
            IntVector bit = IntVector.zero(I).blend(1, v.compare(VectorOperators.GE, 0f).cast(I));
            if (t < 32) {
                w0 = w0.or(bit.lanewise(VectorOperators.LSHL, t));
            } else {
                w1 = w1.or(bit.lanewise(VectorOperators.LSHL, t - 32));
            }
        }
        s0.intoArray(sums, j0);
        s1.intoArray(sums, j0 + 4);
        // words[j0 + lane] = (unsigned) w0 | w1 << 32; both halves written out (a constant part, see twoBitWords8)
        LongVector a0 = ((LongVector) w0.convertShape(VectorOperators.I2L, L, 0)).and(0xFFFFFFFFL);
        LongVector b0 = ((LongVector) w1.convertShape(VectorOperators.I2L, L, 0)).lanewise(VectorOperators.LSHL, 32);
        a0.or(b0).intoArray(words, j0);
        LongVector a1 = ((LongVector) w0.convertShape(VectorOperators.I2L, L, 1)).and(0xFFFFFFFFL);
        LongVector b1 = ((LongVector) w1.convertShape(VectorOperators.I2L, L, 1)).lanewise(VectorOperators.LSHL, 32);
        a1.or(b1).intoArray(words, j0 + 4);
    }

    @Override
    public long firstInvalid(MemorySegment seg, long from, long count, InputType type, boolean fp16Range) {
        // mapped segments stay scalar; so do small inputs (a decode append's token): the plain chunked
        // loop takes ~160 ns for 512 floats in cache (a harness, 2026-12-02), and the steady-state decode
        // path then needs no vector code compiled for it (the full suite showed ~48 heap bytes a call in
        // decode appends, not seen alone)
        if (seg.isMapped() || count < SMALL_CHECK) {
            return ScalarEncodeMath.firstInvalidScalar(seg, from, count, type, fp16Range);
        }
        long i = 0;
        if (type == InputType.F32) {
            int limit = ScalarEncodeMath.limitBits(type, fp16Range); // |bits| above it are rejected
            // four vectors a test: the largest magnitude's bits (non-negative ints order as the floats)
            for (; i + 4 * W <= count; i += 4 * W) {
                long at = (from + i) * 4;
                IntVector a = FloatVector.fromMemorySegment(F, seg, at, NATIVE).reinterpretAsInts().and(0x7FFFFFFF);
                IntVector b = FloatVector.fromMemorySegment(F, seg, at + 32, NATIVE).reinterpretAsInts().and(0x7FFFFFFF);
                IntVector c = FloatVector.fromMemorySegment(F, seg, at + 64, NATIVE).reinterpretAsInts().and(0x7FFFFFFF);
                IntVector e = FloatVector.fromMemorySegment(F, seg, at + 96, NATIVE).reinterpretAsInts().and(0x7FFFFFFF);
                if (a.max(b).max(c.max(e)).compare(VectorOperators.GT, limit).anyTrue()) {
                    break; // the scalar loop below finds it
                }
            }
        } else {
            short limit = (short) ScalarEncodeMath.limitBits(type, fp16Range);
            int lanes = S.length();
            for (; i + lanes <= count; i += lanes) {
                ShortVector bits = ShortVector.fromMemorySegment(S, seg, (from + i) * 2, NATIVE);
                if (bits.and((short) 0x7FFF).compare(VectorOperators.GT, limit).anyTrue()) {
                    break;
                }
            }
        }
        long rest = ScalarEncodeMath.firstInvalidScalar(seg, from + i, count - i, type, fp16Range);
        return rest < 0 ? -1 : i + rest;
    }
}
