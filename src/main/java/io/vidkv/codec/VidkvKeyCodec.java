package io.vidkv.codec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * VidKV keys ("1.x-bit", METHOD.md sections 2 and 7). At calibration the head's channels are ranked
 * by {@link SplitMetric} and the top {@code a = round((keyBits - 1) * d)} become anomalous; the
 * split is then frozen. Per block:
 * <ul>
 *   <li>anomalous channels: 2-bit min/max per channel over the G tokens;
 *   <li>the n = d - a normal channels of each token: a real DFT (FFTW r2c, one batched plan for the
 *       G tokens), whose n real components (Re X0, Re Xk and Im Xk for 0 < k < n/2, Re X(n/2) for even
 *       n) are stored as one sign bit each, with a scale per (component, group) = mean |component|;
 *       reconstruction is +-scale. With {@code spectral = false} the normal channels themselves are
 *       sign-quantized (the paper's "without FFT" ablation).
 * </ul>
 * Row space (see {@link KeyCodec}): rows [0, a) are the anomalous channels in {@link HeadState#keyOrder}
 * order, rows [a, d) the n components. The query transform applies the same DFT to the query's
 * normal channels and weights component j by w_j / n (w = 1 for Re X0 and Re X(n/2), else 2), so by
 * Parseval q . k = sum_r q'_r row_r(k) without ever inverse-transforming a key.
 *
 * <p>Block layout (G tokens, a anomalous, n normal, f = metadata bytes): anomalous codes as 2 planes
 * of a rows x G/8 bytes; spectral signs as 1 plane of n rows x G/8 bytes; a anomalous scales; a
 * anomalous zeros; n spectral scales.
 */
public final class VidkvKeyCodec implements KeyCodec {

    private final double keyBits;
    private final SplitMetric metric;
    private final boolean spectral;
    private final boolean perGroup;
    private final MetadataFormat format;
    private final int groupSize;
    private final int headDim;
    private final int anomalous;
    private final int normal;

    public VidkvKeyCodec(double keyBits, SplitMetric metric, boolean spectral, boolean perGroup, MetadataFormat format,
                         int groupSize, int headDim) {
        if (!(keyBits >= 1.0 && keyBits <= 2.0)) {
            throw new IllegalArgumentException("VidKV key bits must be in [1, 2], got " + keyBits);
        }
        if (perGroup && format != MetadataFormat.FP16) {
            throw new IllegalArgumentException("a per-group channel split needs FP16 metadata (super-scales are per row)");
        }
        this.perGroup = perGroup;
        this.keyBits = keyBits;
        this.metric = metric;
        this.spectral = spectral;
        this.format = format;
        this.groupSize = groupSize;
        this.headDim = headDim;
        this.anomalous = (int) Math.round((keyBits - 1.0) * headDim);
        this.normal = headDim - anomalous;
    }

    public int anomalousChannels() {
        return anomalous;
    }

    public double keyBits() {
        return keyBits;
    }

    @Override
    public long blockBytes() {
        return (long) (2 * anomalous + normal) * (groupSize / 8) + metadataBytes();
    }

    @Override
    public long metadataBytes() {
        return (long) (2 * anomalous + normal) * format.bytes() + (perGroup ? headDim / 8 : 0);
    }

    private long maskOff(long off) {
        return paramsOff(off) + (long) (2 * anomalous + normal) * format.bytes();
    }

    @Override
    public void prepare(CodecScratch s) {
        if (spectral && normal > 0) {
            s.forwardGroup(normal);
            s.inverseGroup(normal);
            s.forwardQuery(normal);
        }
    }

    @Override
    public boolean rowSpacePerBlock() {
        return perGroup;
    }

    /** The channel order of the block at {@code off}: frozen, or from the block's mask. */
    private int[] order(MemorySegment src, long off, HeadState state, CodecScratch s) {
        if (!perGroup) {
            return state.keyOrder;
        }
        long m = maskOff(off);
        int r = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (int c = 0; c < headDim; c++) {
                boolean isAnomalous = (src.get(ValueLayout.JAVA_BYTE, m + c / 8) >>> (c % 8) & 1) != 0;
                if (isAnomalous == (pass == 0)) {
                    s.order[r++] = c;
                }
            }
        }
        return s.order;
    }

    private long spectralCodesOff(long off) {
        return off + (long) 2 * anomalous * (groupSize / 8);
    }

    private long paramsOff(long off) {
        return spectralCodesOff(off) + (long) normal * (groupSize / 8);
    }

    @Override
    public void calibrate(float[] x, int tokens, HeadState state, CodecScratch s) {
        rank(x, tokens, state.keyOrder, new float[headDim], metric == SplitMetric.OUTLIER_COUNT ? new float[tokens * headDim] : null);
        state.anomalous = anomalous;
        if (format == MetadataFormat.COMPACT8) {
            calibrateSuperScales(x, tokens, state, s);
        }
    }

    /**
     * Ranks channels by the split metric over x[t * d + c], t < tokens, and writes the order
     * (anomalous channels ascending, then normal ascending). Allocation-free given the buffers.
     */
    private void rank(float[] x, int tokens, int[] order, float[] score, float[] absBuf) {
        float medianAbs = 0f;
        if (metric == SplitMetric.OUTLIER_COUNT) {
            for (int i = 0; i < tokens * headDim; i++) {
                absBuf[i] = Math.abs(x[i]);
            }
            Arrays.sort(absBuf, 0, tokens * headDim);
            medianAbs = absBuf[tokens * headDim / 2];
        }
        for (int c = 0; c < headDim; c++) {
            double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY, sum = 0, sq = 0;
            int outliers = 0;
            for (int t = 0; t < tokens; t++) {
                double v = x[t * headDim + c];
                min = Math.min(min, v);
                max = Math.max(max, v);
                sum += v;
                sq += v * v;
                if (Math.abs(v) > 3 * medianAbs) {
                    outliers++;
                }
            }
            score[c] = switch (metric) {
                case RANGE -> (float) (max - min);
                case VARIANCE -> (float) (sq / tokens - (sum / tokens) * (sum / tokens));
                case OUTLIER_COUNT -> outliers;
            };
        }
        // Select the top `anomalous` channels (ties to the lower index), marking each by NaN.
        for (int k = 0; k < anomalous; k++) {
            int best = -1;
            for (int c = 0; c < headDim; c++) {
                if (!Float.isNaN(score[c]) && (best < 0 || score[c] > score[best])) {
                    best = c;
                }
            }
            score[best] = Float.NaN;
        }
        int r = 0;
        for (int c = 0; c < headDim; c++) {
            if (Float.isNaN(score[c])) {
                order[r++] = c;
            }
        }
        for (int c = 0; c < headDim; c++) {
            if (!Float.isNaN(score[c])) {
                order[r++] = c;
            }
        }
    }

    private void calibrateSuperScales(float[] x, int tokens, HeadState state, CodecScratch s) {
        float global = 0f;
        for (int r = 0; r < anomalous; r++) {
            int c = state.keyOrder[r];
            float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
            for (int t = 0; t < tokens; t++) {
                min = Math.min(min, x[t * headDim + c]);
                max = Math.max(max, x[t * headDim + c]);
            }
            state.keySuper[r] = (max - min) / 3f;
            global = Math.max(global, state.keySuper[r]);
        }
        Arrays.fill(state.keySuper, anomalous, headDim, 0f);
        for (int g = 0; g + groupSize <= tokens; g += groupSize) {
            components(x, g * headDim, state.keyOrder, s);
            for (int j = 0; j < normal; j++) {
                for (int t = 0; t < groupSize; t++) {
                    state.keySuper[anomalous + j] = Math.max(state.keySuper[anomalous + j], Math.abs(component(s, t, j)));
                }
            }
        }
        for (int r = 0; r < headDim; r++) {
            global = Math.max(global, state.keySuper[r]);
        }
        for (int r = 0; r < headDim; r++) {
            state.keySuper[r] = HeadState.superScale(state.keySuper[r], global);
        }
    }

    /** Fills the scratch with the n components of G tokens starting at x[base]. */
    private void components(float[] x, int base, int[] ord, CodecScratch s) {
        if (normal == 0) {
            return;
        }
        if (!spectral) {
            for (int t = 0; t < groupSize; t++) {
                for (int j = 0; j < normal; j++) {
                    s.f1[t * normal + j] = x[base + t * headDim + ord[anomalous + j]];
                }
            }
            return;
        }
        MemorySegment real = s.fftReal;
        for (int t = 0; t < groupSize; t++) {
            for (int j = 0; j < normal; j++) {
                real.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * normal + j, x[base + t * headDim + ord[anomalous + j]]);
            }
        }
        s.forwardGroup(normal).execute(real, s.fftComplex);
        int stride = 2 * (normal / 2 + 1);
        for (int t = 0; t < groupSize; t++) {
            for (int j = 0; j < normal; j++) {
                s.f1[t * normal + j] = s.fftComplex.getAtIndex(ValueLayout.JAVA_FLOAT, (long) t * stride + (j == 0 ? 0 : j + 1));
            }
        }
    }

    private float component(CodecScratch s, int t, int j) {
        return s.f1[t * normal + j];
    }

    @Override
    public void encode(float[] x, HeadState state, MemorySegment dst, long off, CodecScratch s) {
        int[] ord = state.keyOrder;
        if (perGroup) {
            ord = s.order;
            rank(x, groupSize, ord, s.f2, s.f1);
            long m = maskOff(off);
            for (int b = 0; b < headDim / 8; b++) {
                dst.set(ValueLayout.JAVA_BYTE, m + b, (byte) 0);
            }
            for (int r = 0; r < anomalous; r++) {
                int c = ord[r];
                dst.set(ValueLayout.JAVA_BYTE, m + c / 8, (byte) (dst.get(ValueLayout.JAVA_BYTE, m + c / 8) | 1 << (c % 8)));
            }
        }
        int[] codes = s.codes;
        long p = paramsOff(off);
        int fb = format.bytes();
        encodeAnomalous(x, ord, anomalous, groupSize, headDim, format, state.keySuper, dst, p, s);
        CodePlanes.pack(codes, anomalous, groupSize, 2, true, dst, off);
        if (normal > 0) {
            components(x, 0, ord, s);
            long scales = p + 2L * anomalous * fb;
            for (int j = 0; j < normal; j++) {
                double sum = 0;
                for (int t = 0; t < groupSize; t++) {
                    float v = component(s, t, j);
                    sum += Math.abs(v);
                    codes[j * groupSize + t] = v >= 0f ? 1 : 0;
                }
                format.writeRaw(dst, scales + (long) j * fb, format.encodeScale((float) (sum / groupSize), state.keySuper[anomalous + j]));
            }
            CodePlanes.pack(codes, normal, groupSize, 1, true, dst, spectralCodesOff(off));
        }
    }

    /**
     * 2-bit min/max codes of the anomalous rows r < a (channel ord[r]) into s.codes[r * G + t], scales
     * at {@code params} and zero points after the a scales, in {@code fmt}.
     */
    static void encodeAnomalous(float[] x, int[] ord, int a, int g, int d, MetadataFormat fmt, float[] supers,
                                MemorySegment dst, long params, CodecScratch s) {
        int fb = fmt.bytes();
        for (int r = 0; r < a; r++) {
            int c = ord[r];
            float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
            for (int t = 0; t < g; t++) {
                min = Math.min(min, x[t * d + c]);
                max = Math.max(max, x[t * d + c]);
            }
            fmt.minMaxParams(min, max, 4, supers[r], s.params, s.raw);
            fmt.writeRaw(dst, params + (long) r * fb, s.raw[0]);
            fmt.writeRaw(dst, params + (long) (a + r) * fb, s.raw[1]);
            float inv = s.params[0] > 0f ? 1f / s.params[0] : 0f;
            for (int t = 0; t < g; t++) {
                int code = Math.round((x[t * d + c] - s.params[1]) * inv);
                s.codes[r * g + t] = Math.max(0, Math.min(3, code));
            }
        }
    }

    @Override
    public void decodeRows(MemorySegment src, long off, HeadState state, float[] out, int outOff, CodecScratch s) {
        int fb = format.bytes();
        int bytesPerRow = groupSize / 8;
        long p = paramsOff(off);
        for (int r = 0; r < anomalous; r++) {
            float scale = format.decodeScale(format.readRaw(src, p + (long) r * fb), state.keySuper[r]);
            float zero = format.decodeZero(format.readRaw(src, p + (long) (anomalous + r) * fb), scale);
            PlaneDecoder.twoBit(src, off + (long) r * bytesPerRow, off + (long) (anomalous + r) * bytesPerRow,
                    bytesPerRow, scale, zero, out, outOff + r * groupSize);
        }
        long scales = p + 2L * anomalous * fb;
        long codes = spectralCodesOff(off);
        for (int j = 0; j < normal; j++) {
            float scale = format.decodeScale(format.readRaw(src, scales + (long) j * fb), state.keySuper[anomalous + j]);
            PlaneDecoder.signs(src, codes + (long) j * bytesPerRow, bytesPerRow, scale, out, outOff + (anomalous + j) * groupSize);
        }
    }

    /**
     * The second code-consumption strategy ("fused"): scores straight from the code bytes without
     * materializing the block's rows. For query head j, row r: w = q'_jr * scale_r; the anomalous
     * rows add w * (bit0 + 2 bit1) + q'_jr * zero_r, the spectral rows w * (+-1), eight tokens per
     * table load. Trades the shared decode pass for per-head table loads; kept for measurement
     * (BENCHMARKS.md), the kernel uses decodeRows unless -Dvidkv.keyScoring=fused.
     */
    public void scoreBlockFused(MemorySegment src, long off, HeadState state, float[] q, int qBase, int queries,
                                float[] out, CodecScratch s) {
        int fb = format.bytes();
        int bytesPerRow = groupSize / 8;
        long p = paramsOff(off);
        float[] scale = s.f1;
        float[] zero = s.f2;
        for (int r = 0; r < anomalous; r++) {
            scale[r] = format.decodeScale(format.readRaw(src, p + (long) r * fb), state.keySuper[r]);
            zero[r] = format.decodeZero(format.readRaw(src, p + (long) (anomalous + r) * fb), scale[r]);
        }
        long scales = p + 2L * anomalous * fb;
        for (int j = 0; j < normal; j++) {
            scale[anomalous + j] = format.decodeScale(format.readRaw(src, scales + (long) j * fb), state.keySuper[anomalous + j]);
        }
        long codes = spectralCodesOff(off);
        for (int i = 0; i < queries; i++) {
            int qo = qBase + i * headDim;
            float bias = 0f;
            for (int r = 0; r < anomalous; r++) {
                bias += q[qo + r] * zero[r];
            }
            PlaneDecoder.fusedScores(src, off, codes, anomalous, normal, bytesPerRow, q, qo, scale, bias, out, i * groupSize);
        }
    }

    @Override
    public void transformQuery(float[] q, int queries, float scale, HeadState state, float[] out, CodecScratch s) {
        transform(q, queries, scale, state.keyOrder, out, s);
    }

    @Override
    public void transformQueryForBlock(MemorySegment src, long off, float[] q, int queries, float scale, HeadState state,
                                       float[] out, CodecScratch s) {
        transform(q, queries, scale, order(src, off, state, s), out, s);
    }

    private void transform(float[] q, int queries, float scale, int[] ord, float[] out, CodecScratch s) {
        for (int i = 0; i < queries; i++) {
            for (int r = 0; r < anomalous; r++) {
                out[i * headDim + r] = scale * q[i * headDim + ord[r]];
            }
        }
        if (normal == 0) {
            return;
        }
        if (!spectral) {
            for (int i = 0; i < queries; i++) {
                for (int j = 0; j < normal; j++) {
                    out[i * headDim + anomalous + j] = scale * q[i * headDim + ord[anomalous + j]];
                }
            }
            return;
        }
        MemorySegment real = s.fftReal;
        for (int i = 0; i < queries; i++) {
            for (int j = 0; j < normal; j++) {
                real.setAtIndex(ValueLayout.JAVA_FLOAT, (long) i * normal + j, q[i * headDim + ord[anomalous + j]]);
            }
        }
        s.forwardQuery(normal).execute(real, s.fftComplex);
        int stride = 2 * (normal / 2 + 1);
        for (int i = 0; i < queries; i++) {
            for (int j = 0; j < normal; j++) {
                float w = (j == 0 || (normal % 2 == 0 && j == normal - 1)) ? 1f : 2f;
                float comp = s.fftComplex.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * stride + (j == 0 ? 0 : j + 1));
                out[i * headDim + anomalous + j] = scale * w / normal * comp;
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long off, HeadState state, float[] out, CodecScratch s) {
        float[] rows = s.f2;
        decodeRows(src, off, state, rows, 0, s);
        int[] ord = order(src, off, state, s);
        for (int r = 0; r < anomalous; r++) {
            for (int t = 0; t < groupSize; t++) {
                out[t * headDim + ord[r]] = rows[r * groupSize + t];
            }
        }
        if (normal == 0) {
            return;
        }
        if (!spectral) {
            for (int j = 0; j < normal; j++) {
                for (int t = 0; t < groupSize; t++) {
                    out[t * headDim + ord[anomalous + j]] = rows[(anomalous + j) * groupSize + t];
                }
            }
            return;
        }
        int stride = 2 * (normal / 2 + 1);
        MemorySegment spec = s.fftComplex;
        for (int t = 0; t < groupSize; t++) {
            for (int f = 0; f < stride; f++) {
                spec.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * stride + f, 0f);
            }
            for (int j = 0; j < normal; j++) {
                spec.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * stride + (j == 0 ? 0 : j + 1), rows[(anomalous + j) * groupSize + t]);
            }
        }
        s.inverseGroup(normal).execute(spec, s.fftReal);
        for (int t = 0; t < groupSize; t++) {
            for (int j = 0; j < normal; j++) {
                out[t * headDim + ord[anomalous + j]] =
                        s.fftReal.getAtIndex(ValueLayout.JAVA_FLOAT, (long) t * normal + j) / normal;
            }
        }
    }
}
