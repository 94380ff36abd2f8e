package io.vidkv.codec;

import io.vidkv.InputType;

import java.lang.foreign.MemorySegment;

/**
 * The hot loops of the encoders and of the append's input checks, with one plain-Java body
 * ({@link ScalarEncodeMath}) and one Vector API body ({@link PanamaEncodeMath}), picked once per
 * process by {@code io.vidkv.kernel.KernelProvider} ({@link #chosen()}). Both bodies give the same
 * results bit for bit: every sum is taken per channel (or component) in token order in double
 * precision, exactly as the scalar loop does, and codes come from comparisons and exact
 * conversions that reproduce {@link Math#round(float)} (tested on random inputs, with the edge
 * values, in {@code EncodeMathTest}).
 *
 * <p>A block is x[t * d + c] for tokens t &lt; G and channels c &lt; d (the layout every encoder
 * receives). "Words" are bit rows of up to 64 tokens, bit t = token t.
 */
public interface EncodeMath {

    /** Tokens a word holds at most (G &lt;= 64 in every layout). */
    int MAX_TOKENS = 64;

    /** Name of the body, for reports and test names. */
    String name();

    /**
     * Per channel c &lt; d, the minimum and maximum of x[t * d + c] over t &lt; tokens: min[c], max[c]
     * (Java's {@link Math#min}/{@link Math#max}: -0.0 below 0.0; inputs are finite).
     */
    void channelMinMax(float[] x, int d, int tokens, float[] min, float[] max);

    /**
     * Per channel c &lt; d, the 2-bit codes clamp(round((x[t * d + c] - zero[c]) * inv[c]), 0, 3) of
     * t &lt; tokens &lt;= 64 as two words: low[c] = the low bits, high[c] = the high bits.
     */
    void twoBitWords(float[] x, int d, int tokens, float[] zero, float[] inv, long[] low, long[] high);

    /**
     * Per channel c &lt; d, codes[t * d + c] = clamp(round((x[t * d + c] - zero[c]) * inv[c]), 0,
     * levels - 1) for t &lt; tokens (the protected tokens' codes).
     */
    void channelCodes(float[] x, int d, int tokens, float[] zero, float[] inv, int levels, int[] codes);

    /**
     * The codes clamp(round((x[base + i] - zero) * inv), 0, levels - 1) of n consecutive elements into
     * codes[codeBase + i] (the per-token uniform codes).
     */
    void codes(float[] x, int base, int n, float zero, float inv, int levels, int[] codes, int codeBase);

    /**
     * One round of the per-channel least-squares fit ({@link io.vidkv.ParameterFit#LEAST_SQUARES}) and
     * the squared error of the parameters it starts from, in one pass (the same codes): per channel c
     * &lt; d over t &lt; tokens, with code = clamp(round((x[t * d + c] - zero[c]) * inv[c]), 0, levels -
     * 1), the double sums in token order of code (sums[c]), code^2 (sums[d + c]), x (sums[2 d + c]) and
     * code x (sums[3 d + c]), and errors[c] exactly as {@link #squaredErrors} gives it.
     */
    void fitSums(float[] x, int d, int tokens, float[] zero, float[] scale, float[] inv, int levels, double[] sums,
                 double[] errors);

    /**
     * Per channel c &lt; d, the squared error of the parameters (scale[c], zero[c]) over t &lt; tokens:
     * errors[c] = the double sum in token order of (zero[c] + (double) scale[c] code - x)^2, code =
     * clamp(round((x[t * d + c] - zero[c]) * inv[c]), 0, levels - 1).
     */
    void squaredErrors(float[] x, int d, int tokens, float[] zero, float[] scale, float[] inv, int levels, double[] errors);

    /** min (out[0]) and max (out[1]) of n consecutive elements x[base + i]. */
    void minMax(float[] x, int base, int n, float[] out);

    /**
     * Bit planes of per-token codes: words[c * bits + p] bit t = bit p of codes[t * d + c], for c &lt; d,
     * p &lt; bits, t &lt; tokens &lt;= 64.
     */
    void planeWords(int[] codes, int d, int tokens, int bits, long[] words);

    /**
     * Per channel c &lt; d: sums[c] = the double sum of |x[t * d + c]| over the tokens t &lt; tokens whose
     * bit in {@code skip} is clear, in token order.
     */
    void absSums(float[] x, int d, int tokens, long skip, double[] sums);

    /**
     * The ternary codes of a block, per channel c &lt; d over t &lt; tokens: code = sign(v) where bit t of
     * {@code skip} is clear and |v| &gt; thresholds[c], else 0 (a float threshold: the largest float at
     * or below the codec's double threshold gives the same comparisons). Writes sums[c] = the double
     * sum of |v| over the nonzero codes in token order and counts[c] = their number, the base-3
     * digits (0; 1 for +1; 2 for -1) of each five tokens 5i..5i+4 as trits[i * d + c] = sum_k
     * digit(5i + k) 3^k (i &lt; ceil(tokens / 5), the last one partial) and, if {@code codes} is not
     * null, codes[t * d + c].
     */
    void ternary(float[] x, int d, int tokens, long skip, float[] thresholds, double[] sums, int[] counts, int[] trits,
                 int[] codes);

    /*
     * Ternary values per token (TernaryTokenCodec): each token's statistics run over its d channels,
     * so they take the block channel-major as well, cols[c * tokens + t], with tokens in the vector
     * lanes and every per-token sum in channel order, as a loop over one token's row takes it.
     */

    /**
     * The normalized block: rows[t * d + c] = x[t * d + c] / n[c] (float division), and the same values
     * channel-major, cols[c * tokens + t], for t &lt; tokens, c &lt; d.
     */
    void normalize(float[] x, int d, int tokens, float[] n, float[] rows, float[] cols);

    /**
     * Per token t &lt; tokens of a channel-major block cols[c * tokens + t] (c &lt; d): sums[t] = the
     * double sum in channel order of |v| over the values with |v| &gt; above[t], counts[t] = their
     * number (a negative above[t]: every value; a float bound: the largest float at or below a double
     * threshold gives the same comparisons).
     */
    void tokenSumsAbove(float[] cols, int d, int tokens, float[] above, double[] sums, int[] counts);

    /**
     * The n keys keys[0, n) (non-negative ints: the bits of float magnitudes, which order like the
     * floats) in ascending order into sorted[0, n); ranks[0, n) is working space.
     */
    void sortKeys(int[] keys, int n, int[] ranks, int[] sorted);

    /**
     * The base-3 digits of per-token ternary codes, per channel c &lt; d over t &lt; tokens &lt;= 64 of
     * rows[t * d + c]: code = sign(v) where |v| &gt; above[t], else 0; trits[i * d + c] = sum_k
     * digit(5i + k) 3^k as in {@link #ternary} (digit 0 for 0, 1 for +1, 2 for -1).
     */
    void tokenTrits(float[] rows, int d, int tokens, float[] above, int[] trits);

    /**
     * The sign quantizer of n spectral components y[t * n + j] over t &lt; tokens &lt;= 64: sums[j] = the
     * double sum of |y| in token order, words[j] bit t = (y &gt;= 0).
     */
    void signWords(float[] y, int n, int tokens, double[] sums, long[] words);

    /**
     * The index (from 0) of the first of {@code count} elements of {@code type} at element
     * {@code from} of {@code seg} that is not finite or, when {@code fp16Range}, whose magnitude
     * exceeds 65504; -1 if there is none. Reads of a mapped segment stay scalar (a vector load from a
     * truncated mapping crashes the JVM; a scalar one throws).
     */
    long firstInvalid(MemorySegment seg, long from, long count, InputType type, boolean fp16Range);

    /** The body chosen for this process (by {@code io.vidkv.kernel.KernelProvider}). */
    static EncodeMath chosen() {
        return EncodeBodies.chosen();
    }
}
