package io.vidkv.codec;

import io.vidkv.InputType;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The two {@link EncodeMath} bodies on random blocks with the edge values (exact halves between
 * codes, -0.0 and 0.0, values equal to a threshold, huge and tiny magnitudes), several shapes and
 * seeds: {@link PanamaEncodeMath} must give exactly the plain-Java body's results (no tolerance), and
 * both must match an independent float64 reference of each loop: codes as floor(y + 1/2) of the
 * float y computed in double (exact), sums against the exact double sum within 1e-12 relative,
 * ternary decisions against the float64 threshold (values within 1e-9 of it skipped), and the first
 * invalid input element against a plain search.
 */
class EncodeMathTest {

    private static final EncodeMath SCALAR = new ScalarEncodeMath();

    private static EncodeMath vector() {
        assumeTrue(PanamaEncodeMath.available(), "no 256-bit vectors on this platform");
        return new PanamaEncodeMath();
    }

    /** A block [tokens][d] of random values with a share of edge values, and matching zero/inv per channel. */
    private static float[] block(SplittableRandom rnd, int tokens, int d, float[] zero, float[] inv) {
        float[] x = new float[tokens * d];
        for (int c = 0; c < d; c++) {
            float scale = (float) Math.exp(rnd.nextDouble(-4, 4));
            zero[c] = (float) (rnd.nextGaussian() * scale);
            inv[c] = rnd.nextInt(20) == 0 ? 0f : 1f / scale;
            if (rnd.nextInt(20) == 0) { // a zero scale at zero (the VidKV normal channels' mark)
                zero[c] = 0f;
                inv[c] = 0f;
            }
        }
        for (int t = 0; t < tokens; t++) {
            for (int c = 0; c < d; c++) {
                float s = inv[c] == 0f ? 1f : 1f / inv[c];
                x[t * d + c] = switch (rnd.nextInt(12)) {
                    case 0 -> zero[c] + s * (rnd.nextInt(5) - 0.5f); // near an exact half between codes
                    case 1 -> rnd.nextBoolean() ? 0f : -0f;
                    case 2 -> (float) (rnd.nextGaussian() * 1e30);
                    case 3 -> (float) (rnd.nextGaussian() * 1e-40); // subnormal
                    case 4 -> zero[c] + s * rnd.nextInt(4);
                    default -> (float) (zero[c] + s * rnd.nextGaussian() * 2);
                };
            }
        }
        return x;
    }

    private static int referenceCode(float v, float zero, float inv, int levels) {
        float y = (v - zero) * inv; // the float y the spec computes, then exact round-half-up in double
        if (Float.isNaN(y)) {
            return 0;
        }
        double r = Math.floor((double) y + 0.5);
        return (int) Math.max(0, Math.min(levels - 1, r));
    }

    /**
     * The least-squares fit's passes: both bodies give the same doubles, bit for bit, fitSums' errors
     * are squaredErrors', and each sum and squared error matches a float64 sum of the definition (codes from {@link #referenceCode}) within
     * 1e-12 relative to the sum of magnitudes.
     */
    @ParameterizedTest(name = "tokens={0} d={1}")
    @CsvSource({"32, 128", "64, 64", "24, 96", "8, 24", "1, 8", "40, 100", "33, 13", "64, 32"})
    void fitSumsAndSquaredErrorsAreIdenticalAndMatchFloat64(int tokens, int d) {
        EncodeMath v = vector();
        for (int seed = 0; seed < 4; seed++) {
            SplittableRandom rnd = TestSeeds.random(tokens, d, seed, 7);
            float[] zero = new float[d], inv = new float[d];
            float[] x = block(rnd, tokens, d, zero, inv);
            float[] scale = new float[d];
            for (int c = 0; c < d; c++) {
                scale[c] = inv[c] == 0f ? 0f : 1f / inv[c];
            }
            String at = "tokens " + tokens + " d " + d + TestSeeds.replay();
            for (int levels : new int[]{2, 4, 16}) {
                double[] sa = new double[4 * d], sb = new double[4 * d], ea = new double[d], eb = new double[d];
                double[] fa = new double[d], fb = new double[d];
                SCALAR.fitSums(x, d, tokens, zero, scale, inv, levels, sa, fa);
                v.fitSums(x, d, tokens, zero, scale, inv, levels, sb, fb);
                assertArrayEquals(sa, sb, 0.0, at + " levels " + levels);
                assertArrayEquals(fa, fb, 0.0, at + " levels " + levels);
                SCALAR.squaredErrors(x, d, tokens, zero, scale, inv, levels, ea);
                v.squaredErrors(x, d, tokens, zero, scale, inv, levels, eb);
                assertArrayEquals(ea, eb, 0.0, at + " levels " + levels);
                assertArrayEquals(ea, fa, 0.0, at + " levels " + levels + ": fitSums' errors are squaredErrors'");
                for (int c = 0; c < d; c++) {
                    double[] want = new double[5], mag = new double[5];
                    for (int t = 0; t < tokens; t++) {
                        double xv = x[t * d + c];
                        int k = referenceCode(x[t * d + c], zero[c], inv[c], levels);
                        double r = (double) zero[c] + (double) scale[c] * k - xv;
                        double[] terms = {k, (double) k * k, xv, k * xv, r * r};
                        for (int i = 0; i < 5; i++) {
                            want[i] += terms[i];
                            mag[i] += Math.abs(terms[i]);
                        }
                    }
                    double[] got = {sa[c], sa[d + c], sa[2 * d + c], sa[3 * d + c], ea[c]};
                    for (int i = 0; i < 5; i++) {
                        assertEquals(want[i], got[i], 1e-12 * mag[i], at + " levels " + levels + " channel " + c + " sum " + i);
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "tokens={0} d={1}")
    @CsvSource({"32, 128", "64, 64", "24, 96", "8, 24", "1, 8", "40, 100", "33, 13", "5, 128"})
    void minMaxAndCodesAreIdenticalAndExact(int tokens, int d) {
        EncodeMath v = vector();
        for (int seed = 0; seed < 4; seed++) {
            SplittableRandom rnd = TestSeeds.random(tokens, d, seed);
            float[] zero = new float[d], inv = new float[d];
            float[] x = block(rnd, tokens, d, zero, inv);
            String at = "tokens " + tokens + " d " + d + TestSeeds.replay();
            float[][] mm = new float[4][d];
            SCALAR.channelMinMax(x, d, tokens, mm[0], mm[1]);
            v.channelMinMax(x, d, tokens, mm[2], mm[3]);
            assertArrayEquals(bits(mm[0]), bits(mm[2]), at);
            assertArrayEquals(bits(mm[1]), bits(mm[3]), at);
            for (int c = 0; c < d; c++) {
                double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
                for (int t = 0; t < tokens; t++) {
                    lo = Math.min(lo, x[t * d + c]);
                    hi = Math.max(hi, x[t * d + c]);
                }
                assertEquals(lo, mm[0][c], 0.0, at);
                assertEquals(hi, mm[1][c], 0.0, at);
            }
            long[][] w = new long[4][d];
            SCALAR.twoBitWords(x, d, tokens, zero, inv, w[0], w[1]);
            v.twoBitWords(x, d, tokens, zero, inv, w[2], w[3]);
            assertArrayEquals(w[0], w[2], at);
            assertArrayEquals(w[1], w[3], at);
            for (int levels : new int[]{2, 4, 8, 16, 256}) {
                int[] a = new int[tokens * d], b = new int[tokens * d];
                SCALAR.channelCodes(x, d, tokens, zero, inv, levels, a);
                v.channelCodes(x, d, tokens, zero, inv, levels, b);
                assertArrayEquals(a, b, at + " levels " + levels);
                for (int t = 0; t < tokens; t++) {
                    for (int c = 0; c < d; c++) {
                        int ref = referenceCode(x[t * d + c], zero[c], inv[c], levels);
                        assertEquals(ref, a[t * d + c], at + " levels " + levels + " t " + t + " c " + c);
                        if (levels == 4) {
                            assertEquals(ref & 1, w[0][c] >>> t & 1, at);
                            assertEquals(ref >>> 1, w[1][c] >>> t & 1, at);
                        }
                    }
                }
                int bitsPer = Integer.numberOfTrailingZeros(levels);
                long[] pa = new long[d * bitsPer], pb = new long[d * bitsPer];
                SCALAR.planeWords(a, d, tokens, bitsPer, pa);
                v.planeWords(a, d, tokens, bitsPer, pb);
                assertArrayEquals(pa, pb, at + " planes " + bitsPer);
                for (int c = 0; c < d; c++) {
                    for (int t = 0; t < tokens; t++) {
                        for (int p = 0; p < bitsPer; p++) {
                            assertEquals(a[t * d + c] >>> p & 1, pa[c * bitsPer + p] >>> t & 1, at);
                        }
                    }
                }
                // per token: n consecutive elements with one zero/inv
                int base = rnd.nextInt(x.length), n = rnd.nextInt(x.length - base + 1);
                int[] ca = new int[x.length], cb = new int[x.length];
                SCALAR.codes(x, base, n, zero[0], inv[0], levels, ca, base);
                v.codes(x, base, n, zero[0], inv[0], levels, cb, base);
                assertArrayEquals(ca, cb, at);
                for (int i = 0; i < n; i++) {
                    assertEquals(referenceCode(x[base + i], zero[0], inv[0], levels), ca[base + i], at);
                }
                float[] ma = new float[2], mb = new float[2];
                SCALAR.minMax(x, base, n, ma);
                v.minMax(x, base, n, mb);
                assertArrayEquals(bits(ma), bits(mb), at);
            }
        }
    }

    @ParameterizedTest(name = "tokens={0} d={1}")
    @CsvSource({"32, 128", "64, 64", "24, 96", "8, 24", "1, 8", "40, 100", "33, 13", "7, 128"})
    void ternaryAndSignsAreIdenticalAndMatchFloat64(int tokens, int d) {
        EncodeMath v = vector();
        for (int seed = 0; seed < 4; seed++) {
            SplittableRandom rnd = TestSeeds.random(tokens, d, seed, 7);
            float[] zero = new float[d], inv = new float[d];
            float[] x = block(rnd, tokens, d, zero, inv);
            long skip = seed == 0 ? 0L : rnd.nextLong() & (tokens == 64 ? -1L : (1L << tokens) - 1);
            String at = "tokens " + tokens + " d " + d + " skip " + Long.toHexString(skip) + TestSeeds.replay();
            double[] sa = new double[d], sb = new double[d];
            SCALAR.absSums(x, d, tokens, skip, sa);
            v.absSums(x, d, tokens, skip, sb);
            assertArrayEquals(sa, sb, 0.0, at);
            float[] thr = new float[d];
            double[] thr64 = new double[d];
            for (int c = 0; c < d; c++) {
                double exact = 0;
                for (int t = 0; t < tokens; t++) {
                    exact += (skip >>> t & 1) == 0 ? Math.abs((double) x[t * d + c]) : 0;
                }
                assertEquals(exact, sa[c], 1e-12 * exact, at);
                // some thresholds exactly at a value, some between floats, some none kept
                thr64[c] = switch (rnd.nextInt(4)) {
                    case 0 -> Math.abs(x[rnd.nextInt(tokens) * d + c]);
                    case 1 -> Double.POSITIVE_INFINITY;
                    default -> 0.7 * sa[c] / tokens;
                };
                thr[c] = TernaryValueCodec.floatAtOrBelow(thr64[c]);
            }
            int chunks = (tokens + 4) / 5;
            double[] na = new double[d], nb = new double[d];
            int[] ka = new int[d], kb = new int[d], ta = new int[chunks * d], tb = new int[chunks * d];
            int[] codesA = new int[tokens * d], codesB = new int[tokens * d];
            SCALAR.ternary(x, d, tokens, skip, thr, na, ka, ta, codesA);
            v.ternary(x, d, tokens, skip, thr, nb, kb, tb, codesB);
            assertArrayEquals(na, nb, 0.0, at);
            assertArrayEquals(ka, kb, at);
            assertArrayEquals(ta, tb, at);
            assertArrayEquals(codesA, codesB, at);
            int[] tc = new int[chunks * d];
            v.ternary(x, d, tokens, skip, thr, nb, kb, tc, null);
            assertArrayEquals(ta, tc, at + " without codes");
            for (int c = 0; c < d; c++) {
                int count = 0;
                for (int t = 0; t < tokens; t++) {
                    double av = Math.abs((double) x[t * d + c]);
                    boolean kept = (skip >>> t & 1) == 0 && av > thr64[c];
                    int ref = kept ? (x[t * d + c] > 0 ? 1 : -1) : 0;
                    assertEquals(ref, codesA[t * d + c], at + " t " + t + " c " + c);
                    count += kept ? 1 : 0;
                    int digit = ta[t / 5 * d + c] / (int) Math.pow(3, t % 5) % 3;
                    assertEquals(ref == 0 ? 0 : ref > 0 ? 1 : 2, digit, at);
                }
                assertEquals(count, ka[c], at);
            }
            long[] wa = new long[d], wb = new long[d];
            SCALAR.signWords(x, d, tokens, sa, wa);
            v.signWords(x, d, tokens, sb, wb);
            assertArrayEquals(sa, sb, 0.0, at);
            assertArrayEquals(wa, wb, at);
            for (int j = 0; j < d; j++) {
                double exact = 0;
                for (int t = 0; t < tokens; t++) {
                    exact += Math.abs((double) x[t * d + j]);
                    assertEquals(x[t * d + j] >= 0 ? 1 : 0, wa[j] >>> t & 1, at);
                }
                assertEquals(exact, sa[j], 1e-12 * exact, at);
            }
        }
    }

    /**
     * The passes of ternary values per token: the normalized block (rows and its channel-major copy)
     * equals the float64 quotient rounded to float (exact: a float quotient computed in double and
     * rounded once is the correctly rounded float quotient); per-token sums above a bound match the
     * float64 sum of the definition within 1e-12 relative and their counts exactly, with every keep
     * decision taken against the float64 threshold; sorted keys equal a library sort (with ties and
     * every n from 0 to d); the base-3 digits follow the definition. Both bodies bit for bit.
     */
    @ParameterizedTest(name = "tokens={0} d={1}")
    @CsvSource({"32, 128", "64, 64", "24, 96", "8, 24", "1, 8", "40, 100", "33, 13", "7, 128", "17, 200"})
    void tokenPassesAreIdenticalAndMatchFloat64(int tokens, int d) {
        EncodeMath v = vector();
        for (int seed = 0; seed < 4; seed++) {
            SplittableRandom rnd = TestSeeds.random(tokens, d, seed, 11);
            float[] zero = new float[d], inv = new float[d];
            float[] x = block(rnd, tokens, d, zero, inv);
            float[] n = new float[d];
            for (int c = 0; c < d; c++) {
                n[c] = rnd.nextInt(8) == 0 ? 1f : (float) Math.exp(rnd.nextDouble(-3, 3));
            }
            String at = "tokens " + tokens + " d " + d + TestSeeds.replay();
            float[] rowsA = new float[tokens * d], colsA = new float[tokens * d];
            float[] rowsB = new float[tokens * d], colsB = new float[tokens * d];
            SCALAR.normalize(x, d, tokens, n, rowsA, colsA);
            v.normalize(x, d, tokens, n, rowsB, colsB);
            assertArrayEquals(bits(rowsA), bits(rowsB), at);
            assertArrayEquals(bits(colsA), bits(colsB), at);
            for (int t = 0; t < tokens; t++) {
                for (int c = 0; c < d; c++) {
                    float ref = (float) ((double) x[t * d + c] / n[c]);
                    assertEquals(Float.floatToRawIntBits(ref), Float.floatToRawIntBits(rowsA[t * d + c]), at);
                    assertEquals(Float.floatToRawIntBits(ref), Float.floatToRawIntBits(colsA[c * tokens + t]), at);
                }
            }
            // bounds: every value, exactly at a value, between floats, above every value
            double[] thr64 = new double[tokens];
            float[] bounds = new float[tokens];
            for (int t = 0; t < tokens; t++) {
                double mean = 0;
                for (int c = 0; c < d; c++) {
                    mean += Math.abs((double) rowsA[t * d + c]) / d;
                }
                thr64[t] = switch (rnd.nextInt(5)) {
                    case 0 -> -1;
                    case 1 -> Math.abs(rowsA[t * d + rnd.nextInt(d)]);
                    case 2 -> Double.POSITIVE_INFINITY;
                    default -> 0.7 * mean;
                };
                bounds[t] = TernaryValueCodec.floatAtOrBelow(thr64[t]);
            }
            double[] sa = new double[tokens], sb = new double[tokens];
            int[] ka = new int[tokens], kb = new int[tokens];
            SCALAR.tokenSumsAbove(colsA, d, tokens, bounds, sa, ka);
            v.tokenSumsAbove(colsA, d, tokens, bounds, sb, kb);
            assertArrayEquals(sa, sb, 0.0, at);
            assertArrayEquals(ka, kb, at);
            for (int t = 0; t < tokens; t++) {
                double exact = 0;
                int count = 0;
                for (int c = 0; c < d; c++) {
                    double a = Math.abs((double) rowsA[t * d + c]);
                    if (a > thr64[t]) {
                        exact += a;
                        count++;
                    }
                }
                assertEquals(count, ka[t], at + " t " + t);
                assertEquals(exact, sa[t], 1e-12 * exact, at + " t " + t);
            }
            for (int k = 0; k <= d; k += Math.max(1, d / 9)) {
                int[] keys = new int[k + 8];
                for (int i = 0; i < k; i++) {
                    keys[i] = i > 0 && rnd.nextInt(6) == 0 ? keys[rnd.nextInt(i)] // a tie
                            : Float.floatToRawIntBits(Math.abs(rowsA[rnd.nextInt(tokens * d)]));
                }
                int[] expected = java.util.Arrays.copyOf(keys, k);
                java.util.Arrays.sort(expected);
                int[] oa = new int[k + 8], ob = new int[k + 8];
                SCALAR.sortKeys(keys.clone(), k, new int[k + 8], oa);
                v.sortKeys(keys.clone(), k, new int[k + 8], ob);
                assertArrayEquals(expected, java.util.Arrays.copyOf(oa, k), at + " n " + k);
                assertArrayEquals(expected, java.util.Arrays.copyOf(ob, k), at + " n " + k);
            }
            if (tokens > EncodeMath.MAX_TOKENS) {
                continue;
            }
            int chunks = (tokens + 4) / 5;
            int[] ta = new int[chunks * d], tb = new int[chunks * d];
            SCALAR.tokenTrits(rowsA, d, tokens, bounds, ta);
            v.tokenTrits(rowsA, d, tokens, bounds, tb);
            assertArrayEquals(ta, tb, at);
            for (int c = 0; c < d; c++) {
                for (int t = 0; t < tokens; t++) {
                    float val = rowsA[t * d + c];
                    boolean kept = Math.abs((double) val) > thr64[t];
                    int digit = ta[t / 5 * d + c] / (int) Math.pow(3, t % 5) % 3;
                    assertEquals(kept ? (val > 0 ? 1 : 2) : 0, digit, at + " t " + t + " c " + c);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} fp16Range={1}")
    @CsvSource({"F32, false", "F32, true", "F16, false", "F16, true", "BF16, false", "BF16, true"})
    void firstInvalidFindsTheSameElement(InputType type, boolean fp16Range) {
        EncodeMath v = vector();
        try (Arena arena = Arena.ofConfined()) {
            for (int seed = 0; seed < 40; seed++) {
                SplittableRandom rnd = TestSeeds.random(type.ordinal(), fp16Range ? 1 : 0, seed);
                int n = 1 + rnd.nextInt(seed % 2 == 0 ? 700 : 3 * PanamaEncodeMath.SMALL_CHECK); // both paths
                MemorySegment seg = arena.allocate((long) n * type.bytes());
                float[] bad = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 65505f, -65520f, 70000f, 3e38f};
                float[] good = {65504f, -65504f, 0f, -0f, 1e-40f, 1.5f};
                for (int i = 0; i < n; i++) {
                    put(seg, i, type, rnd.nextInt(10) == 0 ? good[rnd.nextInt(good.length)] : (float) rnd.nextGaussian() * 100);
                }
                int hits = rnd.nextInt(3);
                for (int h = 0; h < hits; h++) {
                    put(seg, rnd.nextInt(n), type, bad[rnd.nextInt(bad.length)]);
                }
                long expected = -1;
                for (int i = 0; i < n && expected < 0; i++) {
                    float f = type.get(seg, i);
                    if (!Float.isFinite(f) || (fp16Range && Math.abs(f) > 65504f)) {
                        expected = i;
                    }
                }
                long from = rnd.nextInt(n);
                String at = type + " n " + n + TestSeeds.replay();
                assertEquals(expected, SCALAR.firstInvalid(seg, 0, n, type, fp16Range), at);
                assertEquals(expected, v.firstInvalid(seg, 0, n, type, fp16Range), at);
                assertEquals(SCALAR.firstInvalid(seg, from, n - from, type, fp16Range),
                        v.firstInvalid(seg, from, n - from, type, fp16Range), at + " from " + from);
                // heap segments take the same path
                MemorySegment heap = MemorySegment.ofArray(seg.toArray(ValueLayout.JAVA_BYTE));
                assertEquals(expected, v.firstInvalid(heap, 0, n, type, fp16Range), at + " heap");
            }
        }
    }

    private static void put(MemorySegment seg, long i, InputType type, float v) {
        switch (type) {
            case F32 -> seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
            case F16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16(v));
            case BF16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) (Float.floatToRawIntBits(v) >>> 16));
        }
    }

    private static int[] bits(float[] a) {
        int[] b = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            b[i] = Float.floatToRawIntBits(a[i]);
        }
        return b;
    }
}
