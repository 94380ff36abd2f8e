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
        float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            float v = x[base + i * stride];
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        fmt.minMaxParams(min, max, levels, superScale, s.params, s.raw);
        fmt.writeRaw(dst, scaleAt, s.raw[0]);
        fmt.writeRaw(dst, zeroAt, s.raw[1]);
        float inv = s.params[0] > 0f ? 1f / s.params[0] : 0f;
        float zero = s.params[1];
        for (int i = 0; i < n; i++) {
            int code = Math.round((x[base + i * stride] - zero) * inv);
            codes[codeBase + i * codeStride] = Math.max(0, Math.min(levels - 1, code));
        }
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
