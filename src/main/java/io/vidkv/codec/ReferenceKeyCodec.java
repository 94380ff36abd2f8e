package io.vidkv.codec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The public reference code's key quantizer (METHOD.md section 6), kept only to compare against:
 * anomalous channels as in {@link VidkvKeyCodec}; the n normal channels of each token go through a
 * complex DFT whose n bins' real and imaginary parts (2n numbers, half of them redundant for real
 * input) are stored as one bit each, reconstructed as {0, +s} instead of {-s, +s}; FP16 scales.
 * The inverse takes the real part of the inverse complex DFT. Decoding dequantizes to the channel
 * domain (the reference never scores in the frequency domain), so rows are channels and the
 * query transform is the identity.
 *
 * <p>The split is the reference code's: the {@code floor(d (keyBits - 1))} channels of largest
 * range (32 when that is 0 and keyBits &gt; 1) over every row {@link #calibrate} is given, which in
 * the reference mode are all tokens of all heads of the layer; the normal channels go into the
 * DFT in ascending channel order. A spectral component counts as zero (sign bit 1, as the
 * reference's {@code x >= 0} gives for zero) when its magnitude is below {@link #ZERO_FRACTION} of
 * its token's normal-channel norm: a dequantize-requantize round trip leaves many components at
 * exactly zero in exact arithmetic, and their sign must not be that of float32 rounding noise.
 *
 * <p>Block layout: anomalous codes (2 planes x a rows x G/8), 2n spectral bits (2n rows x G/8:
 * row 2k = Re X_k, row 2k+1 = Im X_k), a scales, a zeros, 2n spectral scales, all FP16.
 */
public final class ReferenceKeyCodec implements KeyCodec {

    /** Components below this fraction of their token's normal-channel norm are zero (about 16 x float32 FFT noise at n = 64). */
    static final double ZERO_FRACTION = 0x1p-12;
    private final float[] unitSuperScales;
    private final int groupSize;
    private final int headDim;
    private final int anomalous;
    private final int normal;

    public ReferenceKeyCodec(double keyBits, int groupSize, int headDim) {
        if (!(keyBits >= 1.0 && keyBits <= 2.0)) {
            throw new IllegalArgumentException("reference key bits must be in [1, 2], got " + keyBits);
        }
        this.groupSize = groupSize;
        this.headDim = headDim;
        // cache_utils.py: k = int(num_channels * difficult_ratio); if difficult_ratio > 0 and k == 0: k = 32
        int k = (int) (headDim * (keyBits - 1.0));
        if (keyBits > 1.0 && k == 0) {
            if (headDim < 32) {
                throw new IllegalArgumentException("reference keys at " + keyBits + " bits take 32 anomalous channels "
                        + "(the reference code's fallback when d (keyBits - 1) < 1), more than head_dim " + headDim);
            }
            k = 32;
        }
        this.anomalous = k;
        this.normal = headDim - anomalous;
        this.unitSuperScales = new float[headDim];
        java.util.Arrays.fill(unitSuperScales, 1f); // FP16 metadata ignores super-scales
    }

    @Override
    public long blockBytes() {
        return (long) (2 * anomalous + 2 * normal) * (groupSize / 8) + metadataBytes();
    }

    @Override
    public long metadataBytes() {
        return (long) (2 * anomalous + 2 * normal) * 2;
    }

    /** The channel split as a d-bit mask (the reference mode's split is per layer; counted per head). */
    @Override
    public long stateBytes() {
        return HeadState.splitBytes(headDim);
    }

    private long spectralOff(long off) {
        return off + (long) 2 * anomalous * (groupSize / 8);
    }

    private long paramsOff(long off) {
        return spectralOff(off) + (long) 2 * normal * (groupSize / 8);
    }

    /** The anomalous channel count (the reference's k). */
    public int anomalousChannels() {
        return anomalous;
    }

    /**
     * The reference code's split over rows x[r * d + c], r &lt; rows: range = max - min per channel,
     * the top k by range (ties to the lower channel) in ascending order, then the rest ascending.
     * Allocates a d-float buffer: it runs once per prefill or flush.
     */
    @Override
    public void calibrate(float[] x, int rows, HeadState state, CodecScratch s) {
        float[] range = new float[headDim];
        for (int c = 0; c < headDim; c++) {
            float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
            for (int r = 0; r < rows; r++) {
                float v = x[r * headDim + c];
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            range[c] = (float) ((double) max - min);
        }
        boolean[] top = new boolean[headDim];
        for (int i = 0; i < anomalous; i++) {
            int best = -1;
            for (int c = 0; c < headDim; c++) {
                if (!top[c] && (best < 0 || range[c] > range[best])) {
                    best = c;
                }
            }
            top[best] = true;
        }
        int r = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (int c = 0; c < headDim; c++) {
                if (top[c] == (pass == 0)) {
                    state.keyOrder[r++] = c;
                }
            }
        }
    }

    /** Re and Im of all n bins of token t's normal channels into s.f1[t * 2n + ...]. */
    private void bins(float[] x, HeadState state, CodecScratch s) {
        MemorySegment real = s.fftReal;
        for (int t = 0; t < groupSize; t++) {
            for (int j = 0; j < normal; j++) {
                real.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * normal + j, x[t * headDim + state.keyOrder[anomalous + j]]);
            }
        }
        s.forwardGroup(normal).execute(real, s.fftComplex);
        int stride = 2 * (normal / 2 + 1);
        for (int t = 0; t < groupSize; t++) {
            for (int k = 0; k < normal; k++) {
                // X_k for k > n/2 mirrors X_{n-k} (real input): conjugate.
                int src = k <= normal / 2 ? k : normal - k;
                float re = s.fftComplex.getAtIndex(ValueLayout.JAVA_FLOAT, (long) t * stride + 2L * src);
                float im = s.fftComplex.getAtIndex(ValueLayout.JAVA_FLOAT, (long) t * stride + 2L * src + 1);
                s.f1[t * 2 * normal + 2 * k] = re;
                s.f1[t * 2 * normal + 2 * k + 1] = k <= normal / 2 ? im : -im;
            }
        }
    }

    @Override
    public void encode(float[] x, HeadState state, MemorySegment dst, long off, CodecScratch s) {
        int[] codes = s.codes;
        long p = paramsOff(off);
        for (int r = 0; r < anomalous; r++) {
            MinMaxCodes.quantize(x, state.keyOrder[r], headDim, groupSize, 4, MetadataCodes.FP16, unitSuperScales[r], dst,
                    p + 2L * r, p + 2L * (anomalous + r), codes, r * groupSize, 1, s);
        }
        CodePlanes.pack(codes, anomalous, groupSize, 2, true, dst, off);
        if (normal == 0) {
            return;
        }
        bins(x, state, s);
        for (int t = 0; t < groupSize; t++) {
            double norm = 0;
            for (int j = 0; j < normal; j++) {
                double v = x[t * headDim + state.keyOrder[anomalous + j]];
                norm += v * v;
            }
            float zero = (float) (ZERO_FRACTION * Math.sqrt(norm));
            for (int i = 0; i < 2 * normal; i++) {
                int at = t * 2 * normal + i;
                if (Math.abs(s.f1[at]) < zero) {
                    s.f1[at] = 0f; // counts as zero: sign bit 1, and nothing towards the scale
                }
            }
        }
        long scales = p + 4L * anomalous;
        for (int i = 0; i < 2 * normal; i++) {
            MinMaxCodes.signs(s.f1, i, 2 * normal, groupSize, MetadataCodes.FP16, 1f, dst, scales + 2L * i, codes, i * groupSize, 1);
        }
        CodePlanes.pack(codes, 2 * normal, groupSize, 1, true, dst, spectralOff(off));
    }

    @Override
    public void dequantize(MemorySegment src, long off, HeadState state, float[] out, CodecScratch s) {
        long p = paramsOff(off);
        float[] rows = s.f2;
        CodePlanes.unpack(src, off, anomalous, groupSize, 2, true, rows, 0);
        for (int r = 0; r < anomalous; r++) {
            float scale = MetadataCodes.FP16.decodeScale(MetadataCodes.FP16.readRaw(src, p + 2L * r), 1f);
            float zero = MetadataCodes.FP16.decodeZero(MetadataCodes.FP16.readRaw(src, p + 2L * (anomalous + r)), scale);
            for (int t = 0; t < groupSize; t++) {
                out[t * headDim + state.keyOrder[r]] = Math.fma(scale, rows[r * groupSize + t], zero);
            }
        }
        if (normal == 0) {
            return;
        }
        CodePlanes.unpack(src, spectralOff(off), 2 * normal, groupSize, 1, true, rows, 0);
        long scales = p + 4L * anomalous;
        for (int i = 0; i < 2 * normal; i++) {
            float scale = MetadataCodes.FP16.decodeScale(MetadataCodes.FP16.readRaw(src, scales + 2L * i), 1f);
            for (int t = 0; t < groupSize; t++) {
                rows[i * groupSize + t] *= scale; // {0, +s}
            }
        }
        // Real part of the inverse complex DFT = c2r of the Hermitian part H_k = (X_k + conj X_{n-k}) / 2.
        int stride = 2 * (normal / 2 + 1);
        for (int t = 0; t < groupSize; t++) {
            for (int k = 0; k <= normal / 2; k++) {
                int m = (normal - k) % normal;
                float re = 0.5f * (rows[(2 * k) * groupSize + t] + rows[(2 * m) * groupSize + t]);
                float im = 0.5f * (rows[(2 * k + 1) * groupSize + t] - rows[(2 * m + 1) * groupSize + t]);
                s.fftComplex.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * stride + 2L * k, re);
                s.fftComplex.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * stride + 2L * k + 1, im);
            }
        }
        s.inverseGroup(normal).execute(s.fftComplex, s.fftReal);
        for (int t = 0; t < groupSize; t++) {
            for (int j = 0; j < normal; j++) {
                out[t * headDim + state.keyOrder[anomalous + j]] = s.fftReal.getAtIndex(ValueLayout.JAVA_FLOAT, (long) t * normal + j) / normal;
            }
        }
    }

    @Override
    public void transformQuery(float[] q, int queries, float scale, HeadState state, float[] out, CodecScratch s) {
        KeyCodec.scaleQueries(q, queries * headDim, scale, out);
    }
}
