package io.vidkv.codec;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API passes of ternary values per token ({@link TernaryTokenCodec}), for
 * {@link PanamaEncodeMath}: a token's statistics run over its d channels, so they take eight tokens
 * in the lanes of a channel-major copy of the block, the channel loop inside, and every token's sum
 * keeps the plain loop's channel order ({@link ScalarEncodeMath} gives the same bits); the codes'
 * digits take eight channels in the lanes, as the per-channel codec's do. Explicit 256-bit vectors;
 * vectors never cross a call (KERNEL-NOTES.md).
 */
final class PanamaTokenMath {

    // the species and lane count of the encoders' one place for them
    private static final VectorSpecies<Float> F = PanamaEncodeMath.F;
    private static final VectorSpecies<Double> D = PanamaEncodeMath.D;
    private static final VectorSpecies<Integer> I = PanamaEncodeMath.I;
    private static final int W = PanamaEncodeMath.W;

    private PanamaTokenMath() {
    }

    private static int whole(int d) {
        return PanamaEncodeMath.whole(d);
    }

    static void normalize(float[] x, int d, int tokens, float[] n, float[] rows, float[] cols) {
        // rows with channels in the lanes (an IEEE division lane by lane, as the scalar loop divides),
        // then one transposing copy: the block is in L1, and a vector scatter has no AVX2 instruction
        for (int t = 0; t < tokens; t++) {
            int row = t * d, c = 0;
            for (; c < whole(d); c += W) {
                FloatVector.fromArray(F, x, row + c).div(FloatVector.fromArray(F, n, c)).intoArray(rows, row + c);
            }
            for (; c < d; c++) {
                rows[row + c] = x[row + c] / n[c];
            }
        }
        for (int c = 0; c < d; c++) {
            for (int t = 0; t < tokens; t++) {
                cols[c * tokens + t] = rows[t * d + c];
            }
        }
    }

    static void tokenSumsAbove(float[] cols, int d, int tokens, float[] above, double[] sums, int[] counts) {
        int whole = tokens - tokens % W;
        for (int t0 = 0; t0 < whole; t0 += W) {
            tokenSumsAbove8(cols, d, tokens, t0, above, sums, counts);
        }
        ScalarEncodeMath.tokenSumsAbove(whole, cols, d, tokens, above, sums, counts);
    }

    /** Tokens t0 .. t0 + 7 in the lanes, the channel loop inside: each token's sum in channel order. */
    private static void tokenSumsAbove8(float[] cols, int d, int tokens, int t0, float[] above, double[] sums, int[] counts) {
        FloatVector bound = FloatVector.fromArray(F, above, t0);
        DoubleVector s0 = DoubleVector.zero(D), s1 = DoubleVector.zero(D);
        IntVector count = IntVector.zero(I);
        for (int c = 0; c < d; c++) {
            FloatVector a = FloatVector.fromArray(F, cols, c * tokens + t0).abs();
            VectorMask<Float> kept = a.compare(VectorOperators.GT, bound);
            FloatVector keptAbs = FloatVector.zero(F).blend(a, kept); // +0.0 for the others: sums unchanged
            s0 = s0.add((DoubleVector) keptAbs.convertShape(VectorOperators.F2D, D, 0));
            s1 = s1.add((DoubleVector) keptAbs.convertShape(VectorOperators.F2D, D, 1));
            count = count.add(1, kept.cast(I));
        }
        s0.intoArray(sums, t0);
        s1.intoArray(sums, t0 + 4);
        count.intoArray(counts, t0);
    }

    /**
     * {@link EncodeMath#sortKeys} by rank: a key's place is the number of keys below it, counted for eight keys at once against
     * every key (no data-dependent branch, where a comparison sort mispredicts about every other
     * step); equal keys share a place, and the places after it that they leave empty take the value
     * before them, which is theirs.
     */
    static void sortKeys(int[] keys, int n, int[] ranks, int[] sorted) {
        int i0 = 0;
        for (; i0 + 2 * W <= n; i0 += 2 * W) { // sixteen keys a pass: one broadcast serves two vectors
            IntVector k0 = IntVector.fromArray(I, keys, i0), k1 = IntVector.fromArray(I, keys, i0 + W);
            IntVector below0 = IntVector.zero(I), below1 = IntVector.zero(I);
            for (int j = 0; j < n; j++) {
                IntVector b = IntVector.broadcast(I, keys[j]);
                below0 = below0.add(1, b.compare(VectorOperators.LT, k0));
                below1 = below1.add(1, b.compare(VectorOperators.LT, k1));
            }
            below0.intoArray(ranks, i0);
            below1.intoArray(ranks, i0 + W);
        }
        for (; i0 + W <= n; i0 += W) {
            IntVector k = IntVector.fromArray(I, keys, i0);
            IntVector below = IntVector.zero(I);
            for (int j = 0; j < n; j++) {
                below = below.add(1, IntVector.broadcast(I, keys[j]).compare(VectorOperators.LT, k));
            }
            below.intoArray(ranks, i0);
        }
        for (int i = i0; i < n; i++) {
            int k = keys[i], below = 0;
            for (int j = 0; j < n; j++) {
                below += keys[j] < k ? 1 : 0;
            }
            ranks[i] = below;
        }
        java.util.Arrays.fill(sorted, 0, n, -1); // keys are non-negative
        for (int i = 0; i < n; i++) {
            sorted[ranks[i]] = keys[i];
        }
        for (int p = 1; p < n; p++) {
            if (sorted[p] < 0) {
                sorted[p] = sorted[p - 1];
            }
        }
    }

    static void tokenTrits(float[] rows, int d, int tokens, float[] above, int[] trits) {
        for (int c0 = 0; c0 < whole(d); c0 += W) {
            tokenTrits8(rows, d, tokens, c0, above, trits);
        }
        ScalarEncodeMath.tokenTrits(whole(d), rows, d, tokens, above, trits);
    }

    private static void tokenTrits8(float[] rows, int d, int tokens, int c0, float[] above, int[] trits) {
        IntVector digits = IntVector.zero(I);
        int pow = 1;
        for (int t = 0; t < tokens; t++) {
            FloatVector v = FloatVector.fromArray(F, rows, t * d + c0);
            VectorMask<Integer> kept = v.abs().compare(VectorOperators.GT, above[t]).cast(I);
            VectorMask<Integer> positive = v.compare(VectorOperators.GT, 0f).cast(I);
            IntVector digit = IntVector.zero(I).blend(2, kept).blend(1, kept.and(positive));
            digits = digits.add(digit.mul(pow));
            pow *= 3;
            if (t % 5 == 4 || t == tokens - 1) {
                digits.intoArray(trits, t / 5 * d + c0);
                digits = IntVector.zero(I);
                pow = 1;
            }
        }
    }
}
