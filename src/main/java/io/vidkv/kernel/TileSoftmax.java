package io.vidkv.kernel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The online softmax of {@link PrefillAttention} between its two matmuls, in place on the native
 * score tile that oneDNN wrote (rows of {@code tileTokens} floats, one per query row): per tile, each
 * row's weights exp(s - shift) and their sum, the causal mask as zeros, and the rescale of the row's
 * running sum and output row when its shift was raised. The running shift and sum of every query row
 * live here, across the tiles of one KV head.
 */
final class TileSoftmax {

    /**
     * How far above a row's largest score its exp shift is set: weights are exp(s - shift) <=
     * e^-16, so a later tile's scores may grow by up to 16 before the shift must be raised, and a
     * weight underflows to 0 only 71 below the largest score (e^-71 ~ 1e-31 of it, far below float
     * precision). Float32 weights have the same relative precision at e^-16 as at 1.
     */
    static final float HEADROOM = 16f;

    private final KernelMath math;
    private final MemorySegment scores;
    private final MemorySegment outTile;
    /** Zeros for the masked tail of a score row (a bulk copy, not an allocating slice fill). */
    private final MemorySegment zeros;
    private final int tileTokens;
    private final int d;
    private final int gq;
    /** Per query row, the exp shift so far: its largest visible score + {@link #HEADROOM} when last raised. */
    private final float[] rowShift;
    private final float[] rowSum;
    /** A row's sixteen partial sums ({@link KernelMath#tileRowExp}). */
    private final float[] partial = new float[16];

    TileSoftmax(KernelMath math, MemorySegment scores, MemorySegment outTile, MemorySegment zeros, int rows, int tileTokens,
                int d, int gq) {
        this.math = math;
        this.scores = scores;
        this.outTile = outTile;
        this.zeros = zeros;
        this.tileTokens = tileTokens;
        this.d = d;
        this.gq = gq;
        this.rowShift = new float[rows];
        this.rowSum = new float[rows];
    }

    /**
     * The first {@code rows} query rows of the tile at position t0 ({@code count} tokens, the first
     * {@code valid} real); query row r (token r / gq) sees positions up to firstPosition + r / gq;
     * {@code first}: the KV head's first tile.
     */
    void rows(int rows, int t0, int count, int valid, int firstPosition, boolean first) {
        for (int r = 0; r < rows; r++) {
            row(r, t0, count, valid, firstPosition, first);
        }
    }

    /** Query row r's sum of weights over every tile so far (its output's divisor). */
    float sum(int r) {
        return rowSum[r];
    }

    /** The online softmax of query row r of the tile at t0 (count tokens, valid real), its causal mask and rescale. */
    private void row(int r, int t0, int count, int valid, int firstPosition, boolean first) {
        int lastVisible = firstPosition + r / gq;
        int visible = Math.max(0, Math.min(valid, lastVisible - t0 + 1));
        long rowOff = (long) r * tileTokens * 4;
        float old = rowSum[r];
        float rescale = weights(rowOff, visible, r, first);
        if (visible < count) { // causal mask
            MemorySegment.copy(zeros, 0, scores, rowOff + 4L * visible, 4L * (count - visible));
        }
        rowSum[r] += first ? 0f : old * rescale;
        if (!first && rescale != 1f) {
            math.tileRowScale(outTile, (long) r * d * 4, d, rescale);
        }
    }

    /**
     * The weights of score row r of the tile, in place on the native tile that oneDNN wrote,
     * one vectorized pass: p = exp(s - shift) for the first {@code visible} scores, their sum (in a
     * fixed order) to rowSum[r]. The shift is the row's largest score so far plus {@link #HEADROOM},
     * so exp sees arguments <= 0 and no max pass is needed per tile; it is raised (and the weights
     * done so far rescaled) only when a score goes above it: on the row's first tile, and rarely
     * later. Returns the factor by which the row's earlier sum and output must be rescaled. No row
     * is copied to the heap and back.
     */
    private float weights(long rowOff, int visible, int r, boolean first) {
        float shift = first ? Float.NEGATIVE_INFINITY : rowShift[r];
        float rescale = 1f;
        float sum = 0f;
        if (visible > 0) {
            if (shift == Float.NEGATIVE_INFINITY) {
                shift = math.tileRowMax(scores, rowOff, visible) + HEADROOM;
                rescale = 0f;
            }
            java.util.Arrays.fill(partial, 0f);
            int whole = visible & -16;
            int i = 0;
            while ((i = math.tileRowExp(scores, rowOff, i, whole, shift, partial)) < whole) {
                float raised = math.tileRowMax(scores, rowOff + 4L * i, visible - i) + HEADROOM;
                float f = ExpApprox.exp(shift - raised);
                math.tileRowScale(scores, rowOff, i, f);
                for (int k = 0; k < 16; k++) {
                    partial[k] *= f;
                }
                rescale *= f;
                shift = raised;
            }
            sum = ((partial[0] + partial[8]) + (partial[1] + partial[9])) + ((partial[2] + partial[10]) + (partial[3] + partial[11]))
                    + (((partial[4] + partial[12]) + (partial[5] + partial[13])) + ((partial[6] + partial[14]) + (partial[7] + partial[15])));
            for (i = whole; i < visible; i++) { // the last scores, in index order
                long at = rowOff + 4L * i;
                float x = scores.get(ValueLayout.JAVA_FLOAT, at);
                if (x > shift) {
                    float raised = math.tileRowMax(scores, at, visible - i) + HEADROOM;
                    float f = ExpApprox.exp(shift - raised);
                    math.tileRowScale(scores, rowOff, i, f);
                    sum *= f;
                    rescale *= f;
                    shift = raised;
                }
                float e = ExpApprox.exp(x - shift);
                scores.set(ValueLayout.JAVA_FLOAT, at, e);
                sum += e;
            }
        }
        rowShift[r] = shift;
        rowSum[r] = sum;
        return rescale;
    }
}
