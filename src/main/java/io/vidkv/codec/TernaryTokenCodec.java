package io.vidkv.codec;

import io.vidkv.layout.TernaryLayout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Ternary values with the threshold and scale per token instead of per channel (values "per token",
 * METHOD.md section 3's other axis, at 1.58 bits): each channel is first divided by its normalizer
 * n_c (mean |v| of the channel over the calibration tokens, fixed per (layer, head)), then each
 * token's d normalized values x_c = v_c / n_c get a threshold (gamma x mean |x|, or the least-squares
 * choice), codes sign(x) where |x| exceeds it, and one scale s_t = mean |x| over its nonzero codes
 * (the least-squares scale for those codes). Reconstruction v' = n_c x s_t x code. (A token whose
 * scale lies below the format's range stores the smallest scale and keeps only the codes of values
 * above half of it.)
 *
 * <p>Token scales are stored one parameter a token in the layer's format, or (b-bit token scales,
 * b = 3 or 4) as the block's largest scale S in that format, a step of the block and, per token, the
 * b-bit level S x 2^(-(top - code) x step), top = 2^b - 1, nearest to its scale. A token with k
 * nonzero codes reconstructed with scale s' instead of s_t loses exactly k (s' - s_t)^2 more
 * (normalized) squared error, since s_t is the mean of its kept |x|: so a token takes the nearer
 * level in value, not in log, and the block takes the step of {@link TernaryLayout#TOKEN_STEP_OCTAVES}
 * with the smallest sum of k (s' - s_t)^2 over its tokens (ties to the finer step).
 *
 * <p>Why: data whose values vary more along tokens than across channels (the synthetic video data,
 * and most of a real layer's energy sits in a few loud tokens) lose less with a scale per token; the
 * normalizer keeps a loud channel from taking every token's threshold. The codes stay channel-major
 * ({@link TernaryLayout} BASE3) so the value kernel is the per-channel one with each token's
 * probability weighted by its scale.
 *
 * <p>BASE3 packing only; no protected tokens (both are rejected at construction).
 */
public final class TernaryTokenCodec implements ValueCodec {

    private final EncodeMath encoder;
    private final double gamma;
    private final boolean leastSquares;
    private final MetadataCodes format;
    private final int groupSize;
    private final int headDim;
    private final int tokenScaleBits;
    private final TernaryLayout layout;
    /** {@link TernaryLayout#TOKEN_SUPER} for each token: the super-scales of COMPACT8 token scales. */
    private final float[] tokenSupers;

    /**
     * @param gamma        threshold factor for the gamma rule, in [0, 10)
     * @param leastSquares threshold by least squares (per token) instead of gamma x mean |x|
     * @param base3        must be true (BASE3 packing)
     * @param protection   must be false
     * @param tokenScaleBits 0 (a parameter a token), 3 or 4 (b-bit codes under a block scale)
     */
    public TernaryTokenCodec(double gamma, boolean leastSquares, boolean base3, boolean protection, int tokenScaleBits,
                             MetadataCodes format, int groupSize, int headDim) {
        this(gamma, leastSquares, base3, protection, tokenScaleBits, format, groupSize, headDim, EncodeMath.chosen());
    }

    /** With the encoder body to use (the tests compare both). */
    TernaryTokenCodec(double gamma, boolean leastSquares, boolean base3, boolean protection, int tokenScaleBits,
                      MetadataCodes format, int groupSize, int headDim, EncodeMath encoder) {
        this.encoder = encoder;
        if (!(gamma >= 0 && gamma < 10)) {
            throw new IllegalArgumentException("ternary gamma must be in [0, 10), got " + gamma);
        }
        if (!base3) {
            throw new IllegalArgumentException("ternary values per token need BASE3 packing, got PLANES");
        }
        if (protection) {
            throw new IllegalArgumentException("ternary values per token do not support protected tokens"
                    + " (use per-channel ternary values for semantic token protection)");
        }
        this.gamma = gamma;
        this.leastSquares = leastSquares;
        this.format = format;
        this.groupSize = groupSize;
        this.headDim = headDim;
        this.tokenScaleBits = tokenScaleBits;
        this.layout = new TernaryLayout(true, false, true, tokenScaleBits, groupSize, headDim, format.bytes());
        this.tokenSupers = new float[groupSize];
        java.util.Arrays.fill(tokenSupers, TernaryLayout.TOKEN_SUPER);
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
        return layout.blockBytes(0);
    }

    @Override
    public long metadataBytes(int protectedTokens) {
        return layout.metadataBytes(0);
    }

    @Override
    public boolean supportsProtection() {
        return false;
    }

    /**
     * The channel normalizers n_c = mean |v| over the calibration tokens; a channel that is all zero
     * takes the mean over all channels. Rounded to FP16 (FP16 metadata) or to 8-bit log codes under
     * the largest in FP16 (COMPACT8, {@link HeadState#roundToCodes}), as {@link #stateBytes()}
     * counts them: a normalizer only sets where a channel's codes sit, so either rounding is free.
     */
    @Override
    public void calibrate(float[] x, int tokens, HeadState state, CodecScratch scratch) {
        double all = 0;
        for (int c = 0; c < headDim; c++) {
            double sum = 0;
            for (int t = 0; t < tokens; t++) {
                sum += Math.abs(x[t * headDim + c]);
            }
            state.valueSuper[c] = (float) (sum / tokens);
            all += sum;
        }
        float global = HeadState.half((float) (all / ((double) tokens * headDim)));
        for (int c = 0; c < headDim; c++) {
            state.valueSuper[c] = HeadState.superScale(HeadState.half(state.valueSuper[c]), global);
        }
        if (format == MetadataCodes.COMPACT8) {
            HeadState.roundToCodes(state.valueSuper, 0, headDim);
        }
    }

    /** The d channel normalizers: FP16 halves, or COMPACT8 codes under one FP16 reference. */
    @Override
    public long stateBytes() {
        return format == MetadataCodes.COMPACT8 ? HeadState.codedBytes(headDim) : 2L * headDim;
    }

    /**
     * The block's values normalized, each token's threshold and scale from sums over its channels
     * (tokens in the vector lanes, every sum in channel order), the block's token scale codes, then
     * the codes as base-3 digits (channels in the lanes) packed into {@link TernaryLayout}'s bytes.
     */
    @Override
    public long encode(float[] x, long protectedMask, HeadState state, MemorySegment dst, long off, CodecScratch s) {
        int d = headDim, g = groupSize;
        float[] rows = s.f1; // the normalized values x_c / n_c, token-major (the codes' pass)
        float[] cols = s.f2; // the same, channel-major (the per-token sums)
        double[] thresholds = s.tokenThresholds;
        double[] sums = s.tokenSums;
        float[] bounds = s.tokenBounds;
        float[] scales = s.magnitudes; // each token's scale: mean |x| over the values above its threshold
        int[] counts = s.tokenCounts;  // each token's nonzero codes (before any clipping)
        encoder.normalize(x, d, g, state.valueSuper, rows, cols);
        java.util.Arrays.fill(bounds, 0, g, -1f); // every value: mean |x|
        encoder.tokenSumsAbove(cols, d, g, bounds, sums, counts);
        if (leastSquares) {
            leastSquaresThresholds(rows, cols, sums, thresholds, s);
        } else {
            for (int t = 0; t < g; t++) {
                thresholds[t] = gamma * sums[t] / d;
            }
        }
        for (int t = 0; t < g; t++) {
            bounds[t] = TernaryValueCodec.floatAtOrBelow(thresholds[t]);
        }
        encoder.tokenSumsAbove(cols, d, g, bounds, sums, counts);
        float largest = 0;
        for (int t = 0; t < g; t++) {
            scales[t] = (float) (counts[t] == 0 ? 0 : sums[t] / counts[t]);
            largest = Math.max(largest, scales[t]);
        }
        float blockScale = 0;
        int top = layout.topTokenCode();
        int step = 0;
        if (tokenScaleBits != 0) {
            int raw = format.encodeScale(largest, TernaryLayout.TOKEN_SUPER);
            format.writeRaw(dst, off + layout.blockScale(), raw);
            blockScale = format.decodeScale(raw, TernaryLayout.TOKEN_SUPER);
            step = bestStep(scales, counts, blockScale, top);
            dst.set(ValueLayout.JAVA_BYTE, off + layout.tokenScaleStep(), (byte) step);
        }
        long pending = 0; // b-bit codes not yet written, the earliest in the low bits
        int pendingBits = 0;
        long codeAt = off + layout.tokenScaleCodes();
        for (int t = 0; t < g; t++) {
            float scale = scales[t];
            float stored;
            boolean bottom = true; // whether the stored scale is the format's smallest (where clipping happens)
            if (tokenScaleBits != 0) {
                int q = nearestLevel(scale, blockScale, top, step);
                stored = blockScale * TernaryLayout.tokenFactor(step, top - q);
                bottom = q == 0;
                pending |= (long) q << pendingBits;
                pendingBits += tokenScaleBits;
                if (pendingBits >= 8) { // b <= 4: at most one whole byte is pending
                    dst.set(ValueLayout.JAVA_BYTE, codeAt++, (byte) pending);
                    pending >>>= 8;
                    pendingBits -= 8;
                }
            } else {
                int raw = format.encodeScale(scale, TernaryLayout.TOKEN_SUPER);
                format.writeRaw(dst, off + layout.scale(t), raw);
                stored = format.decodeScale(raw, TernaryLayout.TOKEN_SUPER);
            }
            // A token far quieter than its channels' calibration means (or than its block's loudest
            // token) gets the format's smallest scale, several times its own: then only values above
            // half of it keep a code (the better code for that scale), not a quiet token
            // reconstructed several times too loud. (A b-bit level above the lowest is the nearest
            // to the token's scale, within half a step: not clipped.) Kept: |x| above both bounds.
            if (bottom && stored > CLIPPED * scale) {
                bounds[t] = Math.max(bounds[t], TernaryValueCodec.floatAtOrBelow(stored / 2.0));
            }
        }
        if (pendingBits > 0) { // the last token scale codes' partial byte
            dst.set(ValueLayout.JAVA_BYTE, codeAt, (byte) pending);
        }
        encoder.tokenTrits(rows, d, g, bounds, s.trits);
        pack(s.trits, dst, off, s.bytes);
        return layout.blockBytes(0);
    }

    /**
     * The least-squares threshold of each token (as {@link TernaryValueCodec}'s per channel): keeping
     * the k largest |x| saves (S_k)^2 / k of the token's sum of squares, so the best k maximizes
     * that; ties go to the smaller k. Only magnitudes above s* / 2 can be kept, s* the best set's
     * mean (its smallest value a has a > s* / 2: with a <= s* / 2, k - 1 saves at least as much), and
     * s* is at least the mean of any top set that contains the best one: of all values (m), then of
     * those above m / 2 (T(m)), then of those above T(m) / 2. So only the values above T(T(m)) / 2 are
     * sorted, as their float bits (non-negative floats order like their bits): the same threshold as
     * sorting all d, for a fraction of the work. {@code sums} holds each token's sum of |x| on entry.
     */
    private void leastSquaresThresholds(float[] rows, float[] cols, double[] sums, double[] thresholds, CodecScratch s) {
        int d = headDim, g = groupSize;
        double[] floors = s.tokenFloors;
        float[] bounds = s.tokenBounds;
        int[] counts = s.tokenCounts;
        for (int t = 0; t < g; t++) {
            floors[t] = sums[t] / d / 2;
        }
        for (int round = 0; round < 2; round++) { // floor = T(floor * 2) / 2, twice
            for (int t = 0; t < g; t++) {
                bounds[t] = TernaryValueCodec.floatAtOrBelow(floors[t]);
            }
            encoder.tokenSumsAbove(cols, d, g, bounds, sums, counts);
            for (int t = 0; t < g; t++) {
                double mean = counts[t] == 0 ? 0 : sums[t] / counts[t];
                // a hair below the bound, so that the sum's rounding never drops a value of the best set
                floors[t] = Math.max(floors[t], mean / 2 * (1 - 1e-9));
            }
        }
        int[] keys = s.sortKeys, sorted = s.sortedKeys;
        for (int t = 0; t < g; t++) {
            double floor = floors[t];
            int row = t * d, n = 0;
            for (int c = 0; c < d; c++) {
                float a = Math.abs(rows[row + c]);
                keys[n] = Float.floatToRawIntBits(a);
                n += a > floor ? 1 : 0;
            }
            encoder.sortKeys(keys, n, s.sortRanks, sorted);
            double best = 0, sum = 0;
            int bestK = 0;
            for (int k = 1; k <= n; k++) {
                sum += Float.intBitsToFloat(sorted[n - k]);
                double saved = sum * sum / k;
                if (saved > best) {
                    best = saved;
                    bestK = k;
                }
            }
            // every candidate kept: codes are |x| > threshold, and no candidate is at or below the floor
            thresholds[t] = bestK == n ? floor : Float.intBitsToFloat(sorted[n - bestK - 1]);
        }
    }

    /**
     * The step index whose levels fit the block's token scales best: the smallest sum over tokens of
     * counts[t] x (level - scales[t])^2 with each token at its nearest level (the exact extra squared
     * error of the token's codes, clipped tokens counted as if not clipped), ties to the finer step.
     */
    private int bestStep(float[] scales, int[] counts, float blockScale, int top) {
        int best = 0;
        double bestError = Double.POSITIVE_INFINITY;
        for (int step = 0; step < TernaryLayout.TOKEN_STEP_OCTAVES.length; step++) {
            double error = 0;
            for (int t = 0; t < groupSize; t++) {
                double e = blockScale * TernaryLayout.tokenFactor(step, top - nearestLevel(scales[t], blockScale, top, step)) - scales[t];
                error += counts[t] * e * e;
            }
            if (error < bestError) {
                bestError = error;
                best = step;
            }
        }
        return best;
    }

    /**
     * The level (0 .. top) whose scale S x factor is nearest to {@code scale} at step index
     * {@code step}: top at or above S, 0 below the smallest level (clipped), else the nearer of the
     * two levels around it.
     */
    static int nearestLevel(float scale, float blockScale, int top, int step) {
        if (!(scale < blockScale)) {
            return top;
        }
        int q = 0;
        while (q < top && blockScale * TernaryLayout.tokenFactor(step, top - q - 1) <= scale) {
            q++;
        }
        if (q == top) {
            return top;
        }
        float lo = blockScale * TernaryLayout.tokenFactor(step, top - q);
        float hi = blockScale * TernaryLayout.tokenFactor(step, top - q - 1);
        return scale < lo || scale - lo <= hi - scale ? q : q + 1;
    }

    /**
     * The G token scales of the block at {@code off} into out[0, G) (the decoder's and the value
     * kernel's one reading of them).
     */
    public void tokenScales(MemorySegment src, long off, float[] out) {
        if (tokenScaleBits != 0) {
            float blockScale = format.decodeScale(format.readRaw(src, off + layout.blockScale()), TernaryLayout.TOKEN_SUPER);
            int top = layout.topTokenCode();
            int step = src.get(ValueLayout.JAVA_BYTE, off + layout.tokenScaleStep()) & 7; // 0-7 as written
            long at = off + layout.tokenScaleCodes();
            long bits = 0; // bytes read but not yet decoded, the earliest code in the low bits
            int have = 0;
            for (int t = 0; t < groupSize; t++) {
                if (have < tokenScaleBits) { // never a byte past the codes' ceil(G b / 8)
                    bits |= (src.get(ValueLayout.JAVA_BYTE, at++) & 0xFFL) << have;
                    have += 8;
                }
                out[t] = blockScale * TernaryLayout.tokenFactor(step, top - (int) (bits & top));
                bits >>>= tokenScaleBits;
                have -= tokenScaleBits;
            }
        } else {
            format.decodeScales(src, off + layout.scale(0), groupSize, tokenSupers, 0, out, 0);
        }
    }

    /** A stored scale above this multiple of its token's scale was clipped up to the format's smallest. */
    private static final float CLIPPED = 1.05f;

    /**
     * The base-3 digits trits[i * d + c] of {@link EncodeMath#tokenTrits} into {@link TernaryLayout}'s
     * BASE3 channel-major bytes (tokens 5i .. 5i + 4 of channel c at c q + i) and tail bits (w bits at
     * bit c w of the string after the whole bytes), staged then copied once.
     */
    private void pack(int[] trits, MemorySegment dst, long off, byte[] staged) {
        int q = layout.fullBytes(), w = layout.tailBits(), d = headDim;
        for (int i = 0; i < q; i++) {
            for (int c = 0; c < d; c++) {
                staged[c * q + i] = (byte) trits[i * d + c];
            }
        }
        BitStrings.packFields(trits, q * d, layout.tailTokens() == 0 ? 0 : d, w, staged, d * q);
        MemorySegment.copy(staged, 0, dst, ValueLayout.JAVA_BYTE, off, (int) layout.codeBytes());
    }

    @Override
    public void decode(MemorySegment src, long off, HeadState state, float[] out, int outOff, CodecScratch s) {
        float[] scales = s.work;
        tokenScales(src, off, scales);
        int q = layout.fullBytes();
        for (int c = 0; c < headDim; c++) {
            float n = state.valueSuper[c];
            for (int i = 0; i <= q; i++) {
                int t0 = 5 * i, count = Math.min(5, groupSize - t0);
                if (count <= 0) {
                    break;
                }
                int v = i < q ? src.get(ValueLayout.JAVA_BYTE, off + layout.trits(c, i)) & 0xFF
                        : BitStrings.getField(src, off + layout.tail(), (long) c * layout.tailBits(), layout.tailBits());
                for (int k = 0; k < count; k++, v /= 3) {
                    int digit = v % 3;
                    out[outOff + (t0 + k) * headDim + c] = n * scales[t0 + k] * (digit == 0 ? 0 : digit == 1 ? 1 : -1);
                }
            }
        }
    }
}
