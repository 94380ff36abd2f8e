package io.vidkv;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Built-in scorers that decide which visual tokens to protect (semantic token protection,
 * METHOD.md section 3), model-agnostic: the caller says where the visual tokens are.
 *
 * <ul>
 *   <li>{@link #meanDotWithText}: the paper's rule, the mean dot product of each visual token's
 *       input embedding with the text-query tokens' embeddings;
 *   <li>{@link #attentionReceived}: the mean attention weight each visual token receives from the
 *       text-query tokens' queries (one head's keys), usable when embeddings are not at hand.
 * </ul>
 * {@link #topFraction} turns scores into the positions to pass to {@link KvCache#protect};
 * {@link KvCache#protectBySaliency} does both steps. Protection matters only for values stored with
 * {@link ValueSpec#protection()}, and must happen before the tokens are quantized (in practice
 * before the prefill append).
 *
 * <p>Segments hold float32 in native byte order, row-major, 4-byte aligned; sums are taken in
 * double. Higher scores mean more salient.
 */
public final class TokenSaliency {

    private TokenSaliency() {
    }

    /**
     * score[i] = mean_j (visual_i . text_j). {@code visual} is [visualTokens, dim], {@code text}
     * [textTokens, dim], both float32 row-major.
     *
     * @param visual       the visual tokens' input embeddings, [visualTokens, dim]
     * @param visualTokens number of visual tokens, at least 0
     * @param text         the text-query tokens' input embeddings, [textTokens, dim]
     * @param textTokens   number of text tokens, at least 1
     * @param dim          embedding width, positive
     * @return one score per visual token, in token order
     * @throws IllegalArgumentException if a count is negative, {@code dim <= 0}, {@code textTokens}
     *                                  is 0, or a segment is smaller than its shape
     */
    public static float[] meanDotWithText(MemorySegment visual, int visualTokens, MemorySegment text, int textTokens, int dim) {
        check(visual, visualTokens, dim, "visual embeddings");
        check(text, textTokens, dim, "text embeddings");
        if (textTokens == 0) {
            throw new IllegalArgumentException("at least one text token is needed to score visual tokens");
        }
        // sum_j text_j once, then one dot per visual token: mean_j v.t_j = v . mean_j t_j
        double[] mean = new double[dim];
        for (int j = 0; j < textTokens; j++) {
            for (int c = 0; c < dim; c++) {
                mean[c] += text.getAtIndex(ValueLayout.JAVA_FLOAT, (long) j * dim + c);
            }
        }
        float[] scores = new float[visualTokens];
        for (int i = 0; i < visualTokens; i++) {
            double s = 0;
            for (int c = 0; c < dim; c++) {
                s += visual.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * dim + c) * mean[c];
            }
            scores[i] = (float) (s / textTokens);
        }
        return scores;
    }

    /**
     * score[i] = mean over text queries q_j of softmax_i(q_j . k_i / sqrt(dim)), keys of the visual
     * tokens [visualTokens, dim], queries [textTokens, dim], float32 row-major. The softmax runs over
     * the visual tokens only, so every query's weights sum to 1 among them.
     *
     * @param visualKeys   one head's keys of the visual tokens, [visualTokens, dim]
     * @param visualTokens number of visual tokens, at least 0
     * @param textQueries  the text-query tokens' queries of a query head that reads this key head,
     *                     [textTokens, dim]
     * @param textTokens   number of text queries, at least 0 (none: every score is 0)
     * @param dim          head dimension, positive
     * @return one score per visual token, in token order, each in [0, 1]
     * @throws IllegalArgumentException if a count is negative, {@code dim <= 0}, or a segment is
     *                                  smaller than its shape
     */
    public static float[] attentionReceived(MemorySegment visualKeys, int visualTokens, MemorySegment textQueries,
                                            int textTokens, int dim) {
        check(visualKeys, visualTokens, dim, "visual keys");
        check(textQueries, textTokens, dim, "text queries");
        double[] acc = new double[visualTokens];
        double[] s = new double[visualTokens];
        for (int j = 0; j < textTokens; j++) {
            double m = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < visualTokens; i++) {
                double dot = 0;
                for (int c = 0; c < dim; c++) {
                    dot += textQueries.getAtIndex(ValueLayout.JAVA_FLOAT, (long) j * dim + c)
                            * visualKeys.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * dim + c);
                }
                s[i] = dot / Math.sqrt(dim);
                m = Math.max(m, s[i]);
            }
            double l = 0;
            for (int i = 0; i < visualTokens; i++) {
                s[i] = Math.exp(s[i] - m);
                l += s[i];
            }
            for (int i = 0; i < visualTokens; i++) {
                acc[i] += s[i] / l;
            }
        }
        float[] out = new float[visualTokens];
        for (int i = 0; i < visualTokens; i++) {
            out[i] = (float) (acc[i] / Math.max(1, textTokens));
        }
        return out;
    }

    /**
     * The positions {@code first + i} of the top {@code ceil(p * n)} scores (ties to the earlier
     * token), ascending.
     *
     * @param scores one score per token, {@code scores[i]} for position {@code first + i}; n is
     *               its length
     * @param first  position of the token {@code scores[0]} scores (e.g. the first visual token)
     * @param p      fraction to keep, in [0, 1] (the paper's 0.2)
     * @return the {@code ceil(p * n)} chosen positions, ascending
     * @throws IllegalArgumentException if {@code p} is outside [0, 1] or NaN, or a score is NaN
     */
    public static int[] topFraction(float[] scores, int first, double p) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException("protected fraction must be in [0, 1], got " + p);
        }
        int n = scores.length;
        int k = (int) Math.ceil(p * n);
        Integer[] idx = new Integer[n];
        for (int i = 0; i < n; i++) {
            if (Float.isNaN(scores[i])) {
                throw new IllegalArgumentException("saliency score of token " + (first + i) + " is NaN");
            }
            idx[i] = i;
        }
        Arrays.sort(idx, (a, b) -> scores[a] != scores[b] ? Float.compare(scores[b], scores[a]) : Integer.compare(a, b));
        int[] out = new int[k];
        for (int i = 0; i < k; i++) {
            out[i] = first + idx[i];
        }
        Arrays.sort(out);
        return out;
    }

    private static void check(MemorySegment seg, int tokens, int dim, String what) {
        if (tokens < 0 || dim <= 0) {
            throw new IllegalArgumentException(what + ": tokens must be >= 0 and dim > 0, got " + tokens + " and " + dim);
        }
        long need = (long) tokens * dim * Float.BYTES;
        if (seg.byteSize() < need) {
            throw new IllegalArgumentException(what + " segment has " + seg.byteSize() + " bytes, expected " + need
                    + " for [" + tokens + ", " + dim + "] float32");
        }
    }
}
