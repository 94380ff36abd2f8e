package io.vidkv.codec;

import io.vidkv.InputType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** The plain-Java body of {@link EncodeMath}: the encoders' loops as they were written first. */
public final class ScalarEncodeMath implements EncodeMath {

    @Override
    public String name() {
        return "plain Java";
    }

    /** clamp(round((v - zero) * inv), 0, levels - 1): the min/max quantizer's code. */
    static int code(float v, float zero, float inv, int levels) {
        return Math.max(0, Math.min(levels - 1, Math.round((v - zero) * inv)));
    }

    @Override
    public void channelMinMax(float[] x, int d, int tokens, float[] min, float[] max) {
        channelMinMax(0, x, d, tokens, min, max);
    }

    /** {@link #channelMinMax} for the channels [c0, d) (also the vector body's last partial vector). */
    static void channelMinMax(int c0, float[] x, int d, int tokens, float[] min, float[] max) {
        for (int c = c0; c < d; c++) {
            float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
            for (int t = 0; t < tokens; t++) {
                float v = x[t * d + c];
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
            min[c] = lo;
            max[c] = hi;
        }
    }

    @Override
    public void twoBitWords(float[] x, int d, int tokens, float[] zero, float[] inv, long[] low, long[] high) {
        twoBitWords(0, x, d, tokens, zero, inv, low, high);
    }

    /** {@link #twoBitWords} for the channels [c0, d). */
    static void twoBitWords(int c0, float[] x, int d, int tokens, float[] zero, float[] inv, long[] low, long[] high) {
        for (int c = c0; c < d; c++) {
            long lo = 0, hi = 0;
            // zero and inv both 0: every code is round(+-0) = 0 (inputs are finite), so the words are 0;
            // the VidKV key encoder marks its normal channels so, and the plain-Java body skips them
            for (int t = 0; t < (zero[c] == 0f && inv[c] == 0f ? 0 : tokens); t++) {
                int code = code(x[t * d + c], zero[c], inv[c], 4);
                lo |= (long) (code & 1) << t;
                hi |= (long) (code >>> 1) << t;
            }
            low[c] = lo;
            high[c] = hi;
        }
    }

    @Override
    public void channelCodes(float[] x, int d, int tokens, float[] zero, float[] inv, int levels, int[] codes) {
        channelCodes(0, x, d, tokens, zero, inv, levels, codes);
    }

    /** {@link #channelCodes} for the channels [c0, d). */
    static void channelCodes(int c0, float[] x, int d, int tokens, float[] zero, float[] inv, int levels, int[] codes) {
        for (int t = 0; t < tokens; t++) {
            for (int c = c0; c < d; c++) {
                codes[t * d + c] = code(x[t * d + c], zero[c], inv[c], levels);
            }
        }
    }

    @Override
    public void fitSums(float[] x, int d, int tokens, float[] zero, float[] scale, float[] inv, int levels, double[] sums,
                        double[] errors) {
        fitSums(0, x, d, tokens, zero, scale, inv, levels, sums, errors);
    }

    /** {@link #fitSums} for the channels [c0, d). */
    static void fitSums(int c0, float[] x, int d, int tokens, float[] zero, float[] scale, float[] inv, int levels,
                        double[] sums, double[] errors) {
        for (int c = c0; c < d; c++) {
            double sumC = 0, sumCC = 0, sumX = 0, sumCX = 0, e = 0;
            for (int t = 0; t < tokens; t++) {
                float v = x[t * d + c];
                int code = code(v, zero[c], inv[c], levels);
                sumC += code;
                sumCC += (double) code * code;
                sumX += v;
                sumCX += (double) code * v;
                double r = zero[c] + (double) scale[c] * code - v; // as squaredErrors
                e += r * r;
            }
            sums[c] = sumC;
            sums[d + c] = sumCC;
            sums[2 * d + c] = sumX;
            sums[3 * d + c] = sumCX;
            errors[c] = e;
        }
    }

    @Override
    public void squaredErrors(float[] x, int d, int tokens, float[] zero, float[] scale, float[] inv, int levels,
                              double[] errors) {
        squaredErrors(0, x, d, tokens, zero, scale, inv, levels, errors);
    }

    /** {@link #squaredErrors} for the channels [c0, d). */
    static void squaredErrors(int c0, float[] x, int d, int tokens, float[] zero, float[] scale, float[] inv, int levels,
                              double[] errors) {
        for (int c = c0; c < d; c++) {
            double e = 0;
            for (int t = 0; t < tokens; t++) {
                float v = x[t * d + c];
                double r = zero[c] + (double) scale[c] * code(v, zero[c], inv[c], levels) - v;
                e += r * r;
            }
            errors[c] = e;
        }
    }

    @Override
    public void codes(float[] x, int base, int n, float zero, float inv, int levels, int[] codes, int codeBase) {
        codes(0, x, base, n, zero, inv, levels, codes, codeBase);
    }

    /** {@link #codes} of the elements [i0, n). */
    static void codes(int i0, float[] x, int base, int n, float zero, float inv, int levels, int[] codes, int codeBase) {
        for (int i = i0; i < n; i++) {
            codes[codeBase + i] = code(x[base + i], zero, inv, levels);
        }
    }

    @Override
    public void minMax(float[] x, int base, int n, float[] out) {
        minMax(0, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, x, base, n, out);
    }

    /** {@link #minMax} of the elements [i0, n), starting from lo and hi. */
    static void minMax(int i0, float lo, float hi, float[] x, int base, int n, float[] out) {
        for (int i = i0; i < n; i++) {
            lo = Math.min(lo, x[base + i]);
            hi = Math.max(hi, x[base + i]);
        }
        out[0] = lo;
        out[1] = hi;
    }

    @Override
    public void planeWords(int[] codes, int d, int tokens, int bits, long[] words) {
        planeWordsAll(codes, d, tokens, bits, words);
    }

    static void planeWordsAll(int[] codes, int d, int tokens, int bits, long[] words) {
        for (int c = 0; c < d; c++) {
            for (int p = 0; p < bits; p++) {
                long w = 0;
                for (int t = 0; t < tokens; t++) {
                    w |= (long) (codes[t * d + c] >>> p & 1) << t;
                }
                words[c * bits + p] = w;
            }
        }
    }

    @Override
    public void absSums(float[] x, int d, int tokens, long skip, double[] sums) {
        absSums(0, x, d, tokens, skip, sums);
    }

    /** {@link #absSums} for the channels [c0, d). */
    static void absSums(int c0, float[] x, int d, int tokens, long skip, double[] sums) {
        for (int c = c0; c < d; c++) {
            double sum = 0;
            for (int t = 0; t < tokens; t++) {
                if ((skip >>> t & 1) == 0) {
                    sum += Math.abs(x[t * d + c]);
                }
            }
            sums[c] = sum;
        }
    }

    @Override
    public void ternary(float[] x, int d, int tokens, long skip, float[] thresholds, double[] sums, int[] counts, int[] trits,
                        int[] codes) {
        ternary(0, x, d, tokens, skip, thresholds, sums, counts, trits, codes);
    }

    /** {@link #ternary} for the channels [c0, d). */
    static void ternary(int c0, float[] x, int d, int tokens, long skip, float[] thresholds, double[] sums, int[] counts,
                        int[] trits, int[] codes) {
        for (int c = c0; c < d; c++) {
            float threshold = thresholds[c];
            double nzSum = 0;
            int nz = 0;
            int digits = 0, pow = 1; // sum of digit(token 5i + k) 3^k of the five tokens being made
            for (int t = 0; t < tokens; t++) {
                // without branches: whether a value is kept is a coin flip, and the mispredictions
                // were most of the encoder's time (adding +0.0 leaves the double sum unchanged)
                float v = x[t * d + c];
                float av = Math.abs(v);
                int kept = ((skip >>> t & 1) == 0) & (av > threshold) ? 1 : 0;
                nzSum += kept != 0 ? av : 0.0;
                nz += kept;
                if (codes != null) {
                    codes[t * d + c] = kept * (v > 0 ? 1 : -1);
                }
                digits += kept * (v > 0 ? 1 : 2) * pow;
                pow *= 3;
                if (t % 5 == 4 || t == tokens - 1) {
                    trits[t / 5 * d + c] = digits;
                    digits = 0;
                    pow = 1;
                }
            }
            sums[c] = nzSum;
            counts[c] = nz;
        }
    }

    @Override
    public void signWords(float[] y, int n, int tokens, double[] sums, long[] words) {
        signWords(0, y, n, tokens, sums, words);
    }

    /** {@link #signWords} for the components [j0, n). */
    static void signWords(int j0, float[] y, int n, int tokens, double[] sums, long[] words) {
        for (int j = j0; j < n; j++) {
            double sum = 0;
            long w = 0;
            for (int t = 0; t < tokens; t++) {
                float v = y[t * n + j];
                sum += Math.abs(v);
                w |= (v >= 0f ? 1L : 0L) << t;
            }
            sums[j] = sum;
            words[j] = w;
        }
    }

    @Override
    public void normalize(float[] x, int d, int tokens, float[] n, float[] rows, float[] cols) {
        for (int t = 0; t < tokens; t++) {
            for (int c = 0; c < d; c++) {
                float v = x[t * d + c] / n[c];
                rows[t * d + c] = v;
                cols[c * tokens + t] = v;
            }
        }
    }

    @Override
    public void tokenSumsAbove(float[] cols, int d, int tokens, float[] above, double[] sums, int[] counts) {
        tokenSumsAbove(0, cols, d, tokens, above, sums, counts);
    }

    /** {@link #tokenSumsAbove} for the tokens [t0, tokens) (also the vector body's last partial vector). */
    static void tokenSumsAbove(int t0, float[] cols, int d, int tokens, float[] above, double[] sums, int[] counts) {
        for (int t = t0; t < tokens; t++) {
            float bound = above[t];
            double sum = 0;
            int count = 0;
            for (int c = 0; c < d; c++) {
                float a = Math.abs(cols[c * tokens + t]);
                boolean kept = a > bound; // no branch: whether a value is kept is a coin flip
                sum += kept ? a : 0.0;    // adding +0.0 leaves the double sum unchanged
                count += kept ? 1 : 0;
            }
            sums[t] = sum;
            counts[t] = count;
        }
    }

    @Override
    public void sortKeys(int[] keys, int n, int[] ranks, int[] sorted) {
        System.arraycopy(keys, 0, sorted, 0, n);
        for (int gap : SHELL_GAPS) { // descending gaps, ascending order; allocates nothing
            for (int i = gap; i < n; i++) {
                int m = sorted[i];
                int j = i;
                while (j >= gap && sorted[j - gap] > m) {
                    sorted[j] = sorted[j - gap];
                    j -= gap;
                }
                sorted[j] = m;
            }
        }
    }

    /** Ciura's gaps, descending, ending in 1 (n is at most a head dimension, a few hundred). */
    private static final int[] SHELL_GAPS = {132, 57, 23, 10, 4, 1};

    @Override
    public void tokenTrits(float[] rows, int d, int tokens, float[] above, int[] trits) {
        tokenTrits(0, rows, d, tokens, above, trits);
    }

    /** {@link #tokenTrits} for the channels [c0, d). */
    static void tokenTrits(int c0, float[] rows, int d, int tokens, float[] above, int[] trits) {
        for (int c = c0; c < d; c++) {
            int digits = 0, pow = 1; // sum of digit(token 5i + k) 3^k of the five tokens being made
            for (int t = 0; t < tokens; t++) {
                float v = rows[t * d + c];
                int kept = Math.abs(v) > above[t] ? 1 : 0;
                digits += kept * (v > 0 ? 1 : 2) * pow;
                pow *= 3;
                if (t % 5 == 4 || t == tokens - 1) {
                    trits[t / 5 * d + c] = digits;
                    digits = 0;
                    pow = 1;
                }
            }
        }
    }

    @Override
    public long firstInvalid(MemorySegment seg, long from, long count, InputType type, boolean fp16Range) {
        return firstInvalidScalar(seg, from, count, type, fp16Range);
    }

    /*
     * The check's limits, on the magnitude's bits (sign cleared): non-negative floats, halves and
     * bfloat16s order like their bits, and NaN and the infinities lie above every finite value. So
     * "not finite, or |v| > 65504 when fp16Range" is exactly "bits above the limit".
     */
    /** F32: the largest finite float, and 65504 (FP16_MAX). */
    static final int FINITE_BITS = 0x7F7FFFFF;
    static final int FP16_RANGE_BITS = Float.floatToRawIntBits(MetadataCodes.FP16_MAX);
    /** F16: the largest finite half (every finite half is within the FP16 range). */
    static final short HALF_FINITE = 0x7BFF;
    /** BF16: the largest finite bfloat16, and the largest at or below 65504 (0x4780 is 65536). */
    static final short BF16_FINITE = 0x7F7F;
    static final short BF16_FP16_RANGE = 0x477F;

    /** The largest magnitude bits that pass the check for {@code type}. */
    static int limitBits(InputType type, boolean fp16Range) {
        return switch (type) {
            case F32 -> fp16Range ? FP16_RANGE_BITS : FINITE_BITS;
            case F16 -> HALF_FINITE;
            case BF16 -> fp16Range ? BF16_FP16_RANGE : BF16_FINITE;
        };
    }

    /** Elements a chunk of the scalar check takes before it tests the chunk's largest magnitude. */
    private static final int CHECK_CHUNK = 64;

    /**
     * The scalar check (also the vector body's path for small and mapped inputs and for locating a
     * hit): per chunk, the largest magnitude's bits without a branch per element, then one test;
     * only a chunk that fails is walked element by element to find the first bad one.
     */
    static long firstInvalidScalar(MemorySegment seg, long from, long count, InputType type, boolean fp16Range) {
        int limit = limitBits(type, fp16Range);
        boolean wide = type == InputType.F32;
        for (long base = 0; base < count; base += CHECK_CHUNK) {
            int n = (int) Math.min(CHECK_CHUNK, count - base);
            long at = from + base;
            int largest = wide ? largestBits32(seg, at, n) : largestBits16(seg, at, n);
            if (largest > limit) {
                for (int k = 0; k < n; k++) {
                    int bits = wide ? seg.get(ValueLayout.JAVA_INT_UNALIGNED, (at + k) * 4) & 0x7FFFFFFF
                            : seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, (at + k) * 2) & 0x7FFF;
                    if (bits > limit) {
                        return base + k;
                    }
                }
            }
        }
        return -1;
    }

    private static int largestBits32(MemorySegment seg, long at, int n) {
        int largest = 0;
        for (int k = 0; k < n; k++) {
            largest = Math.max(largest, seg.get(ValueLayout.JAVA_INT_UNALIGNED, (at + k) * 4) & 0x7FFFFFFF);
        }
        return largest;
    }

    private static int largestBits16(MemorySegment seg, long at, int n) {
        int largest = 0;
        for (int k = 0; k < n; k++) {
            largest = Math.max(largest, seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, (at + k) * 2) & 0x7FFF);
        }
        return largest;
    }
}
