package io.vidkv.codec;

import io.vidkv.SplitMetric;
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
 * <p>Block layout: anomalous codes (2 planes x a rows x G/8), 2n spectral bits (2n rows x G/8:
 * row 2k = Re X_k, row 2k+1 = Im X_k), a scales, a zeros, 2n spectral scales, all FP16.
 */
public final class ReferenceKeyCodec implements KeyCodec {

    private final float[] unitSuperScales;
    private final VidkvKeyCodec split;
    private final int groupSize;
    private final int headDim;
    private final int anomalous;
    private final int normal;

    public ReferenceKeyCodec(double keyBits, int groupSize, int headDim) {
        this.split = new VidkvKeyCodec(keyBits, SplitMetric.RANGE, true, false, MetadataCodes.FP16, groupSize, headDim);
        this.groupSize = groupSize;
        this.headDim = headDim;
        this.anomalous = split.anomalousChannels();
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

    private long spectralOff(long off) {
        return off + (long) 2 * anomalous * (groupSize / 8);
    }

    private long paramsOff(long off) {
        return spectralOff(off) + (long) 2 * normal * (groupSize / 8);
    }

    @Override
    public void calibrate(float[] x, int tokens, HeadState state, CodecScratch s) {
        split.calibrate(x, tokens, state, s);
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
