package io.vidkv.codec;

import java.lang.foreign.MemorySegment;

/**
 * The one asymmetric min/max quantizer (METHOD.md section 2.2): for n elements
 * {@code x[base + i * stride]}, scale = (max - min) / (levels - 1), zero = min, both stored in the
 * block's {@link MetadataCodes} first, then code = clamp(round((x - zero) / scale), 0, levels - 1)
 * against the decoded parameters, so the codes are the best ones for what a decoder will see.
 * Used by the 2-bit anomalous key channels, the uniform codecs and the protected value tokens.
 */
final class MinMaxCodes {

    private MinMaxCodes() {
    }

    /**
     * Quantizes the n elements into {@code codes[codeBase + i * codeStride]}, writing the raw scale
     * at {@code scaleAt} and the raw zero point at {@code zeroAt} of {@code dst}.
     */
    static void quantize(float[] x, int base, int stride, int n, int levels, MetadataCodes fmt, float superScale,
                         MemorySegment dst, long scaleAt, long zeroAt, int[] codes, int codeBase, int codeStride,
                         CodecScratch s) {
        quantize(x, base, stride, n, levels, fmt, superScale, dst, scaleAt, zeroAt, codes, codeBase, codeStride, s, false);
    }

    /**
     * As {@link #quantize(float[], int, int, int, int, MetadataCodes, float, MemorySegment, long, long, int[], int, int,
     * CodecScratch)}, with {@code leastSquares} true for {@link io.vidkv.ParameterFit#LEAST_SQUARES}: from
     * the min/max parameters, assign nearest codes and refit the least-squares line through them, 3
     * rounds, keeping the stored (rounded) parameters with the smallest squared error.
     */
    static void quantize(float[] x, int base, int stride, int n, int levels, MetadataCodes fmt, float superScale,
                         MemorySegment dst, long scaleAt, long zeroAt, int[] codes, int codeBase, int codeStride,
                         CodecScratch s, boolean leastSquares) {
        float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            float v = x[base + i * stride];
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        float inv = params(x, base, stride, n, min, max, levels, fmt, superScale, dst, scaleAt, zeroAt, s, leastSquares);
        float zero = s.params[1];
        for (int i = 0; i < n; i++) {
            int code = Math.round((x[base + i * stride] - zero) * inv);
            codes[codeBase + i * codeStride] = Math.max(0, Math.min(levels - 1, code));
        }
    }

    /**
     * The parameters of n elements {@code x[base + i * stride]} whose min and max are given: encoded
     * and written at {@code scaleAt} and {@code zeroAt}, decoded into {@code s.params} ([scale, zero]);
     * returns 1 / scale (0 for a zero scale), the codes' multiplier. The first half of
     * {@link #quantize}, for encoders that take every channel's min/max and codes in one vector pass.
     */
    static float params(float[] x, int base, int stride, int n, float min, float max, int levels, MetadataCodes fmt,
                        float superScale, MemorySegment dst, long scaleAt, long zeroAt, CodecScratch s, boolean leastSquares) {
        fmt.minMaxParams(min, max, levels, superScale, s.params, s.raw);
        if (leastSquares && n > 1 && max > min) {
            fit(x, base, stride, n, levels, fmt, superScale, s);
        }
        fmt.writeRaw(dst, scaleAt, s.raw[0]);
        fmt.writeRaw(dst, zeroAt, s.raw[1]);
        return s.params[0] > 0f ? 1f / s.params[0] : 0f;
    }

    /**
     * Per-channel parameters of a block's channels {@code channels[i]}, i &lt; count, over its tokens
     * x[t * d + c], t &lt; tokens, from the min/max in {@code s.channelLow}/{@code channelHigh}: parameter i
     * written at {@code scaleAt + i * step} and {@code zeroAt + i * step} with super-scale
     * {@code supers[i]}, the decoded zero point and multiplier into {@code s.channelZero[c]} and
     * {@code s.channelInv[c]} (indexed by channel, for {@link EncodeMath#twoBitWords}). {@code channels}
     * null means channel i.
     */
    static void channelParams(float[] x, int d, int tokens, int[] channels, int count, int levels, MetadataCodes fmt,
                              float[] supers, MemorySegment dst, long scaleAt, long zeroAt, long step, CodecScratch s,
                              boolean leastSquares) {
        for (int i = 0; i < count; i++) {
            int c = channels == null ? i : channels[i];
            s.channelInv[c] = params(x, c, d, tokens, s.channelLow[c], s.channelHigh[c], levels, fmt, supers[i], dst,
                    scaleAt + i * step, zeroAt + i * step, s, leastSquares);
            s.channelZero[c] = s.params[1];
        }
    }

    /**
     * {@link #channelParams} of every channel (channel i is channel c) with the least-squares fit,
     * all channels a round at a time: the same parameters, bit for bit, as {@link #fit} per channel
     * (the same sums and errors in the same order, {@link EncodeMath#fitSums} and
     * {@link EncodeMath#squaredErrors}), with the passes over the block vectorized across channels and
     * each round's errors taken in the pass that makes the next round's sums.
     */
    static void fittedChannelParams(float[] x, int d, int tokens, int levels, MetadataCodes fmt, float[] supers,
                                    MemorySegment dst, long scaleAt, long zeroAt, long step, CodecScratch s, EncodeMath encoder) {
        float[] scale = s.fitScale, zero = s.fitZero, inv = s.fitInv; // the current parameters of each channel
        float[] keptScale = s.keptScale, keptZero = s.keptZero;
        int[] keptRawScale = s.keptRawScale, keptRawZero = s.keptRawZero;
        boolean[] active = s.fitActive;
        double[] best = s.fitBest, errors = s.fitErrors, sums = s.fitSums;
        for (int c = 0; c < d; c++) {
            fmt.minMaxParams(s.channelLow[c], s.channelHigh[c], levels, supers[c], s.params, s.raw);
            keptScale[c] = scale[c] = s.params[0];
            keptZero[c] = zero[c] = s.params[1];
            keptRawScale[c] = s.raw[0];
            keptRawZero[c] = s.raw[1];
            inv[c] = scale[c] > 0f ? 1f / scale[c] : 0f;
            active[c] = tokens > 1 && s.channelHigh[c] > s.channelLow[c];
        }
        // each pass gives the errors of the current parameters and the sums of the next round's fit
        // (the same codes): 4 passes for 3 rounds
        encoder.fitSums(x, d, tokens, zero, scale, inv, levels, sums, best);
        for (int round = 0; round < 3; round++) {
            for (int c = 0; c < d; c++) {
                if (!active[c]) {
                    continue;
                }
                double sumC = sums[c], sumCC = sums[d + c], sumX = sums[2 * d + c], sumCX = sums[3 * d + c];
                double det = tokens * sumCC - sumC * sumC;
                double fitScale = det > 0 ? (tokens * sumCX - sumC * sumX) / det : 0;
                if (!(det > 0) || !(fitScale > 0)) {
                    active[c] = false; // every value on one code, or a degenerate line: nothing to fit
                    continue;
                }
                double fitZero = (sumX - fitScale * sumC) / tokens;
                fmt.minMaxParams((float) fitZero, (float) (fitZero + fitScale * (levels - 1)), levels, supers[c], s.fitParams,
                        s.fitRaw);
                scale[c] = s.fitParams[0];
                zero[c] = s.fitParams[1];
                s.fitRawScale[c] = s.fitRaw[0];
                s.fitRawZero[c] = s.fitRaw[1];
                inv[c] = scale[c] > 0f ? 1f / scale[c] : 0f;
            }
            if (round < 2) {
                encoder.fitSums(x, d, tokens, zero, scale, inv, levels, sums, errors);
            } else {
                encoder.squaredErrors(x, d, tokens, zero, scale, inv, levels, errors);
            }
            for (int c = 0; c < d; c++) {
                if (active[c] && errors[c] < best[c]) {
                    best[c] = errors[c];
                    keptScale[c] = scale[c];
                    keptZero[c] = zero[c];
                    keptRawScale[c] = s.fitRawScale[c];
                    keptRawZero[c] = s.fitRawZero[c];
                }
            }
        }
        for (int c = 0; c < d; c++) {
            fmt.writeRaw(dst, scaleAt + c * step, keptRawScale[c]);
            fmt.writeRaw(dst, zeroAt + c * step, keptRawZero[c]);
            s.channelInv[c] = keptScale[c] > 0f ? 1f / keptScale[c] : 0f;
            s.channelZero[c] = keptZero[c];
        }
    }

    /**
     * Improves {@code s.params}/{@code s.raw} (the min/max start) in place: each round takes the codes
     * the current parameters give, solves the least-squares line x = zero + scale x code for them,
     * rounds it to the format (as a range [zero, zero + scale (levels - 1)], so the format's own
     * rules apply) and keeps it if the squared error of the stored parameters went down.
     */
    private static void fit(float[] x, int base, int stride, int n, int levels, MetadataCodes fmt, float superScale,
                            CodecScratch s) {
        double best = squaredError(x, base, stride, n, levels, s.params[0], s.params[1]);
        float scale = s.params[0], zero = s.params[1];
        for (int round = 0; round < 3; round++) {
            float inv = scale > 0f ? 1f / scale : 0f;
            double sumC = 0, sumCC = 0, sumX = 0, sumCX = 0;
            for (int i = 0; i < n; i++) {
                float v = x[base + i * stride];
                int code = Math.max(0, Math.min(levels - 1, Math.round((v - zero) * inv)));
                sumC += code;
                sumCC += (double) code * code;
                sumX += v;
                sumCX += (double) code * v;
            }
            double det = n * sumCC - sumC * sumC;
            if (det <= 0) {
                return; // every value on one code: nothing to fit
            }
            double fitScale = (n * sumCX - sumC * sumX) / det;
            double fitZero = (sumX - fitScale * sumC) / n;
            if (!(fitScale > 0)) {
                return;
            }
            fmt.minMaxParams((float) fitZero, (float) (fitZero + fitScale * (levels - 1)), levels, superScale,
                    s.fitParams, s.fitRaw);
            scale = s.fitParams[0];
            zero = s.fitParams[1];
            double e = squaredError(x, base, stride, n, levels, scale, zero);
            if (e < best) {
                best = e;
                s.params[0] = scale;
                s.params[1] = zero;
                s.raw[0] = s.fitRaw[0];
                s.raw[1] = s.fitRaw[1];
            }
        }
    }

    /** Squared error of the n elements under decoded parameters (nearest code, clamped). */
    private static double squaredError(float[] x, int base, int stride, int n, int levels, float scale, float zero) {
        float inv = scale > 0f ? 1f / scale : 0f;
        double e = 0;
        for (int i = 0; i < n; i++) {
            float v = x[base + i * stride];
            int code = Math.max(0, Math.min(levels - 1, Math.round((v - zero) * inv)));
            double r = zero + (double) scale * code - v;
            e += r * r;
        }
        return e;
    }

    /**
     * The sign-bit quantizer of the spectral components: bit = component >= 0, one scale per
     * component = mean |component| over the n values (the least-squares scale for +-s given the
     * signs), stored at {@code scaleAt}. Values are {@code y[base + i * stride]}; returns nothing,
     * bits go to {@code codes[codeBase + i * codeStride]}.
     */
    static void signs(float[] y, int base, int stride, int n, MetadataCodes fmt, float superScale,
                      MemorySegment dst, long scaleAt, int[] codes, int codeBase, int codeStride) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float v = y[base + i * stride];
            sum += Math.abs(v);
            codes[codeBase + i * codeStride] = v >= 0f ? 1 : 0;
        }
        fmt.writeRaw(dst, scaleAt, fmt.encodeScale((float) (sum / n), superScale));
    }
}
