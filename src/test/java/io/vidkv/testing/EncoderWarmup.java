package io.vidkv.testing;

import io.vidkv.InputType;
import io.vidkv.codec.EncodeMath;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Warms the encoders' {@link EncodeMath} body the way a server's prefills do, for the steady-state
 * allocation tests. A decode append quantizes a group only every G-th token, so the encoders' vector
 * loops are called ~30 times less often than the attention kernels and, on a loaded two-core machine,
 * C2 compiled them only after the tests' decode warm-up (until then Vector API code boxes: ~12 KiB
 * per block). A server reaches decode after prefills that encode thousands of blocks; this runs each
 * loop that often, on small blocks, once per JVM. It changes no assertion: the tests still require a
 * window of steps with zero heap bytes.
 */
public final class EncoderWarmup {

    private static volatile boolean done;

    private EncoderWarmup() {
    }

    /** Runs every encoder loop of the chosen body 20,000 times (once per JVM; a few seconds while interpreted). */
    public static synchronized void run() {
        if (done) {
            return;
        }
        EncodeMath m = EncodeMath.chosen();
        int d = 16;
        SplittableRandom rnd = new SplittableRandom(1);
        float[] x = new float[64 * d];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        float[] lo = new float[d], hi = new float[d], zero = new float[d], inv = new float[d], thr = new float[d];
        java.util.Arrays.fill(inv, 1f);
        java.util.Arrays.fill(thr, 0.5f);
        long[] w1 = new long[8 * d], w2 = new long[d];
        double[] sums = new double[d], fitSums = new double[4 * d];
        int[] counts = new int[d], trits = new int[13 * d], codes = new int[64 * d];
        float[] mm = new float[2];
        MemorySegment seg = MemorySegment.ofArray(x);
        float[] n = new float[d], rows = new float[64 * d], cols = new float[64 * d], bounds = new float[64];
        java.util.Arrays.fill(n, 1.5f);
        java.util.Arrays.fill(bounds, 0.5f);
        double[] tokenSums = new double[64];
        int[] tokenCounts = new int[64], keys = new int[d + 8], ranks = new int[d + 8], sorted = new int[d + 8];
        for (int c = 0; c < d; c++) {
            keys[c] = Float.floatToRawIntBits(Math.abs(x[c]));
        }
        for (int i = 0; i < 20_000; i++) {
            int tokens = i % 8 == 0 ? 64 : 32;
            long skip = i % 3 == 0 ? 0L : 0x1234_5678L;
            m.channelMinMax(x, d, tokens, lo, hi);
            m.twoBitWords(x, d, tokens, zero, inv, w1, w2);
            m.channelCodes(x, d, 4, zero, inv, 4, codes);
            m.codes(x, 0, 32, 0f, 1f, 4, codes, 0);
            m.minMax(x, 0, 32, mm);
            m.planeWords(codes, d, 32, 2, w1);
            m.absSums(x, d, tokens, skip, sums);
            m.ternary(x, d, tokens, skip, thr, sums, counts, trits, i % 2 == 0 ? null : codes);
            m.signWords(x, d, tokens, sums, w2);
            m.fitSums(x, d, tokens, zero, inv, inv, 4, fitSums, sums);
            m.squaredErrors(x, d, tokens, zero, inv, inv, 4, sums);
            m.firstInvalid(seg, 0, x.length, InputType.F32, i % 2 == 0);
            m.normalize(x, d, tokens, n, rows, cols);
            m.tokenSumsAbove(cols, d, tokens, bounds, tokenSums, tokenCounts);
            m.sortKeys(keys, d, ranks, sorted);
            m.tokenTrits(rows, d, tokens, bounds, trits);
        }
        done = true;
    }
}
