package io.vidkv.codec;

import io.vidkv.SplitMetric;
import io.vidkv.layout.VidkvKeyLayout;

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
 * <p>Block layout: {@link VidkvKeyLayout}.
 */
public final class VidkvKeyCodec implements KeyCodec {

    private final double keyBits;
    private final SplitMetric metric;
    private final boolean spectral;
    private final boolean perGroup;
    private final MetadataCodes format;
    private final int groupSize;
    private final int headDim;
    private final int anomalous;
    private final int normal;
    private final VidkvKeyLayout layout;
    private final EncodeMath encoder;

    public VidkvKeyCodec(double keyBits, SplitMetric metric, boolean spectral, boolean perGroup, MetadataCodes format,
                         int groupSize, int headDim) {
        this(keyBits, metric, spectral, perGroup, format, groupSize, headDim, EncodeMath.chosen());
    }

    /** With the encoder body to use (the tests compare both). */
    VidkvKeyCodec(double keyBits, SplitMetric metric, boolean spectral, boolean perGroup, MetadataCodes format,
                  int groupSize, int headDim, EncodeMath encoder) {
        this.encoder = encoder;
        if (!(keyBits >= 1.0 && keyBits <= 2.0)) {
            throw new IllegalArgumentException("VidKV key bits must be in [1, 2], got " + keyBits);
        }
        if (perGroup && format != MetadataCodes.FP16) {
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
        this.layout = new VidkvKeyLayout(groupSize, headDim, anomalous, format.bytes(), perGroup);
    }

    public int anomalousChannels() {
        return anomalous;
    }

    public double keyBits() {
        return keyBits;
    }

    /** The block layout this codec writes and the kernel reads. */
    public VidkvKeyLayout layout() {
        return layout;
    }

    public MetadataCodes format() {
        return format;
    }

    public boolean spectral() {
        return spectral;
    }

    @Override
    public long blockBytes() {
        return layout.blockBytes();
    }

    @Override
    public long metadataBytes() {
        return layout.metadataBytes();
    }

    /** The channel split as a d-bit mask, and with COMPACT8 the row super-scales as codes. */
    @Override
    public long stateBytes() {
        return HeadState.splitBytes(headDim) + (format == MetadataCodes.COMPACT8 ? HeadState.codedBytes(headDim) : 0);
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
        int r = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (int c = 0; c < headDim; c++) {
                boolean isAnomalous = BitStrings.get(src, off + layout.mask(), c) != 0;
                if (isAnomalous == (pass == 0)) {
                    s.order[r++] = c;
                }
            }
        }
        return s.order;
    }

    @Override
    public void calibrate(float[] x, int tokens, HeadState state, CodecScratch s) {
        rank(x, tokens, state.keyOrder, new float[headDim], metric == SplitMetric.OUTLIER_COUNT ? new float[tokens * headDim] : null);
        if (format == MetadataCodes.COMPACT8) {
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
        // Two kinds of row (anomalous channels' 2-bit scales, spectral components' sign scales, which
        // differ by frequency): a super-scale per row, as 8-bit codes under the largest.
        HeadState.roundToCodes(state.keySuper, 0, headDim);
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
        // the normal channels gathered on the heap, one copy in; one batched r2c for the G rows; the
        // components out with one copy per token (Re X0 at 0, then Re X1, Im X1, ... contiguous from 2)
        float[] gathered = s.f2;
        for (int t = 0; t < groupSize; t++) {
            for (int j = 0; j < normal; j++) {
                gathered[t * normal + j] = x[base + t * headDim + ord[anomalous + j]];
            }
        }
        MemorySegment real = s.fftReal;
        MemorySegment.copy(gathered, 0, real, ValueLayout.JAVA_FLOAT, 0, groupSize * normal);
        s.forwardGroup(normal).execute(real, s.fftComplex);
        int stride = 2 * (normal / 2 + 1);
        for (int t = 0; t < groupSize; t++) {
            s.f1[t * normal] = s.fftComplex.getAtIndex(ValueLayout.JAVA_FLOAT, (long) t * stride);
            MemorySegment.copy(s.fftComplex, ValueLayout.JAVA_FLOAT, ((long) t * stride + 2) * 4, s.f1, t * normal + 1, normal - 1);
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
        }
        BitStrings.clear(dst, off, layout.blockBytes());
        if (perGroup) {
            for (int r = 0; r < anomalous; r++) {
                BitStrings.set(dst, off + layout.mask(), ord[r], 1);
            }
        }
        // anomalous rows: every channel's min/max in one vector pass, the rows' parameters, then every
        // channel's 2-bit codes as two words (the normal channels' words are not used)
        if (anomalous > 0) {
            encoder.channelMinMax(x, headDim, groupSize, s.channelLow, s.channelHigh);
            java.util.Arrays.fill(s.channelZero, 0f); // the normal channels' words: 0, not computed by the plain-Java body
            java.util.Arrays.fill(s.channelInv, 0f);
            MinMaxCodes.channelParams(x, headDim, groupSize, ord, anomalous, 4, format, state.keySuper, dst,
                    off + layout.scale(0), off + layout.zero(0), layout.scale(1) - layout.scale(0), s, false);
            encoder.twoBitWords(x, headDim, groupSize, s.channelZero, s.channelInv, s.words, s.words2);
            for (int r = 0; r < anomalous; r++) {
                BitStrings.setWord(dst, off + layout.row(layout.lowRow(r)), groupSize, s.words[ord[r]]);
                BitStrings.setWord(dst, off + layout.row(layout.highRow(r)), groupSize, s.words2[ord[r]]);
            }
        }
        if (normal > 0) {
            components(x, 0, ord, s);
            // the sign quantizer of each component: bit = component >= 0, scale = mean |component|
            // over the G tokens (the least-squares scale for +-s given the signs)
            encoder.signWords(s.f1, normal, groupSize, s.channelSums, s.words);
            for (int j = 0; j < normal; j++) {
                float mean = (float) (s.channelSums[j] / groupSize);
                format.writeRaw(dst, off + layout.componentScale(j), format.encodeScale(mean, state.keySuper[anomalous + j]));
                BitStrings.setWord(dst, off + layout.row(layout.signRow(j)), groupSize, s.words[j]);
            }
        }
    }

    /**
     * The block as rows, anomalous channels decoded, then the +-scale components: row r of token t at
     * out[r * rowStride + t * tokenStride] (row-major: G, 1; token-major: 1, d).
     */
    private void rows(MemorySegment src, long off, HeadState state, float[] out, int rowStride, int tokenStride,
                      CodecScratch s) {
        float[] sc = s.work; // d scales (anomalous rows, then components), then a zero points
        format.decodeScales(src, off + layout.scale(0), anomalous, state.keySuper, 0, sc, 0);
        format.decodeScales(src, off + layout.componentScale(0), normal, state.keySuper, anomalous, sc, anomalous);
        format.decodeZeros(src, off + layout.zero(0), anomalous, sc, 0, sc, headDim);
        for (int r = 0; r < anomalous; r++) {
            long lo = BitStrings.word(src, off + layout.row(layout.lowRow(r)), groupSize);
            long hi = BitStrings.word(src, off + layout.row(layout.highRow(r)), groupSize);
            for (int t = 0; t < groupSize; t++) {
                int code = (int) (lo >>> t & 1) + 2 * (int) (hi >>> t & 1);
                out[r * rowStride + t * tokenStride] = Math.fma(sc[r], code, sc[headDim + r]);
            }
        }
        for (int j = 0; j < normal; j++) {
            float scale = sc[anomalous + j];
            long signs = BitStrings.word(src, off + layout.row(layout.signRow(j)), groupSize);
            for (int t = 0; t < groupSize; t++) {
                out[(anomalous + j) * rowStride + t * tokenStride] = (signs >>> t & 1) != 0 ? scale : -scale;
            }
        }
    }

    @Override
    public void decodeRows(MemorySegment src, long off, HeadState state, float[] out, CodecScratch s) {
        rows(src, off, state, out, 1, headDim, s);
    }

    @Override
    public void keyRows(float[] x, int tokens, HeadState state, float[] out, CodecScratch s) {
        int[] ord = state.keyOrder;
        for (int t = 0; t < tokens; t++) {
            for (int r = 0; r < anomalous; r++) {
                out[t * headDim + r] = x[t * headDim + ord[r]];
            }
        }
        if (normal == 0) {
            return;
        }
        components(x, 0, ord, s); // the encoder's transform: one batched FFTW call for the G rows
        for (int t = 0; t < tokens; t++) {
            System.arraycopy(s.f1, t * normal, out, t * headDim + anomalous, normal);
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
        rows(src, off, state, rows, groupSize, 1, s);
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
