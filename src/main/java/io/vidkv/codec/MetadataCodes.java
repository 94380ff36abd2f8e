package io.vidkv.codec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * How quantization parameters (scales and zero points) are encoded and decoded in each
 * {@link io.vidkv.MetadataFormat} (the configuration's name for the format; this is its codec).
 *
 * <ul>
 *   <li>{@link #FP16}: each scale and each zero point as an IEEE half (2 bytes), as in the paper.
 *   <li>{@link #COMPACT8}: one byte each, relative to a per-(layer, head, row) FP16 super-scale that
 *       is fixed when the head is calibrated (like llama.cpp's k-quants). A scale is
 *       {@code super * 2^((code - 200) / 24)}: 2.9 % steps from 2^-8.3 to 2^2.3 times the
 *       super-scale, so later groups may be up to 5x larger than anything seen at calibration
 *       before they clip. A zero point is {@code scale * (code - 128) / 4}: quarter-scale steps
 *       within +-32 scales; a group whose minimum lies further out gets a larger scale instead.
 * </ul>
 * Quantizers always encode the parameters first and compute codes against the decoded values, so
 * the packed codes are optimal for what the decoder will actually see.
 */
public enum MetadataCodes {
    FP16(2), COMPACT8(1);

    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final int LOG_OFFSET = 200;
    private static final float LOG_STEPS = 24f;
    /** Largest zero point, in scales, that COMPACT8 represents. */
    static final float MAX_ZERO_IN_SCALES = 127f / 4f;

    /** 2^((code - 200) / 24) for every code: decoding a COMPACT8 scale is one multiply. */
    private static final float[] LOG_SCALE = new float[256];

    static {
        for (int c = 0; c < 256; c++) {
            LOG_SCALE[c] = (float) Math.pow(2, (c - LOG_OFFSET) / (double) LOG_STEPS);
        }
    }

    private final int bytes;

    /** The codes of a configured format. */
    public static MetadataCodes of(io.vidkv.MetadataFormat format) {
        return switch (format) {
            case FP16 -> FP16;
            case COMPACT8 -> COMPACT8;
        };
    }

    MetadataCodes(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes of one stored scale or zero point. */
    public int bytes() {
        return bytes;
    }

    /** Largest finite FP16 value: FP16 parameters saturate there instead of becoming infinite. */
    static final float FP16_MAX = 65504f;

    /**
     * Encodes a non-negative scale; returns the stored bits (for {@link #writeRaw}). An FP16 scale
     * saturates at 65504: inputs within the FP16 range can still need a larger one (the sum of many
     * channels in a DFT component, a 1-bit range of 2 x 65504), and an infinite scale would decode to
     * infinite keys or values.
     */
    public int encodeScale(float scale, float superScale) {
        if (this == FP16) {
            return Float.floatToFloat16(Math.min(scale, FP16_MAX)) & 0xFFFF;
        }
        if (scale <= 0f || superScale <= 0f) {
            return 0;
        }
        double code = Math.ceil(LOG_OFFSET + LOG_STEPS * Math.log(scale / superScale) / Math.log(2) - 1e-9);
        return (int) Math.max(1, Math.min(255, code)); // code 0 means scale 0; round up so the range is covered
    }

    public float decodeScale(int raw, float superScale) {
        if (this == FP16) {
            return Float.float16ToFloat((short) raw);
        }
        if (raw == 0) {
            return 0f;
        }
        return superScale * LOG_SCALE[raw];
    }

    /**
     * Decodes n consecutive scales at {@code off}: out[outOff + i] = decodeScale(raw i, supers[superOff + i])
     * (the kernels' bulk read of a block's parameters).
     */
    public void decodeScales(MemorySegment src, long off, int n, float[] supers, int superOff, float[] out, int outOff) {
        if (this == FP16) {
            for (int i = 0; i < n; i++) {
                out[outOff + i] = Float.float16ToFloat(src.get(SHORT, off + 2L * i));
            }
        } else {
            for (int i = 0; i < n; i++) {
                int raw = src.get(ValueLayout.JAVA_BYTE, off + i) & 0xFF;
                out[outOff + i] = raw == 0 ? 0f : supers[superOff + i] * LOG_SCALE[raw];
            }
        }
    }

    /** Decodes n consecutive zero points at {@code off} given their decoded scales. */
    public void decodeZeros(MemorySegment src, long off, int n, float[] scales, int scaleOff, float[] out, int outOff) {
        if (this == FP16) {
            for (int i = 0; i < n; i++) {
                out[outOff + i] = Float.float16ToFloat(src.get(SHORT, off + 2L * i));
            }
        } else {
            for (int i = 0; i < n; i++) {
                out[outOff + i] = scales[scaleOff + i] * ((src.get(ValueLayout.JAVA_BYTE, off + i) & 0xFF) - 128) / 4f;
            }
        }
    }

    /** Encodes a zero point given the already decoded scale. */
    public int encodeZero(float zero, float decodedScale) {
        if (this == FP16) {
            return Float.floatToFloat16(Math.max(-FP16_MAX, Math.min(zero, FP16_MAX))) & 0xFFFF;
        }
        if (decodedScale <= 0f) {
            return 128;
        }
        long c = Math.round(zero / decodedScale * 4f) + 128;
        return (int) Math.max(0, Math.min(255, c));
    }

    public float decodeZero(int raw, float decodedScale) {
        if (this == FP16) {
            return Float.float16ToFloat((short) raw);
        }
        return decodedScale * (raw - 128) / 4f;
    }

    public void writeRaw(MemorySegment dst, long off, int raw) {
        if (this == FP16) {
            dst.set(SHORT, off, (short) raw);
        } else {
            dst.set(ValueLayout.JAVA_BYTE, off, (byte) raw);
        }
    }

    public int readRaw(MemorySegment src, long off) {
        return this == FP16 ? src.get(SHORT, off) & 0xFFFF : src.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    /**
     * Asymmetric min/max parameters for {@code levels} code levels, as the decoder will see them:
     * writes [scale, zero] decoded into {@code out} and the raw encodings into {@code raw}.
     */
    public void minMaxParams(float min, float max, int levels, float superScale, float[] out, int[] raw) {
        float scale = (max - min) / (levels - 1);
        int rs = encodeScale(scale, superScale);
        float s = decodeScale(rs, superScale);
        if (this == COMPACT8 && s > 0f && Math.abs(min) / s > MAX_ZERO_IN_SCALES) {
            // The zero point does not fit in quarter-scale steps: widen the scale until it does.
            rs = encodeScale((float) (Math.abs(min) / MAX_ZERO_IN_SCALES), superScale);
            s = decodeScale(rs, superScale);
        }
        int rz = encodeZero(min, s);
        out[0] = s;
        out[1] = decodeZero(rz, s);
        raw[0] = rs;
        raw[1] = rz;
    }
}
