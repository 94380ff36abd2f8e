package io.vidkv.testing;

import io.vidkv.KvCache;
import io.vidkv.ModelShape;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Checks a decode step's output against float64 softmax(q K^T / sqrt(d)) V over the retained tokens
 * of a cache as some float64 decoder sees them.
 */
public final class AttentionCheck {

    /** A float64 decoder of one (layer, KV head): {keys[tokens][d], values[tokens][d]}. */
    @FunctionalInterface
    public interface Contents {
        double[][][] of(KvCache cache, int layer, int head);
    }

    /**
     * Allowed |out - ref| of one output element, from the magnitudes that bound float32 rounding:
     * {@code vmax} = max |v| over the head's tokens, {@code smax} = max over visible tokens of
     * sum_c |q_c| m_c / sqrt(d) (the score magnitude, which sets the absolute score error), with m_c
     * the largest |k_c| of the token's quantized block (the magnitude of the parameters a fused kernel
     * folds its score from) or the token's own |k_c| in the residual window; and |ref|.
     */
    @FunctionalInterface
    public interface Tolerance {
        double of(double vmax, double smax, double ref);
    }

    /** Float32 unit roundoff. */
    public static final double U = 0x1p-24;

    private AttentionCheck() {
    }

    /**
     * {@code units} x u (max|v| (1 + S) + |ref|), S the score magnitude: float32 scores carry an
     * absolute error of a few u S, which perturbs each softmax weight by that much relatively and the
     * output by that times max|v|; exp, the weighted sums and the final division add a few u
     * (max|v| + |ref|).
     */
    public static Tolerance rounding(double units) {
        return (vmax, smax, ref) -> units * U * (vmax * (1 + smax) + ref);
    }

    /**
     * Asserts that {@code out} ([queryHeads, d] float32) is within {@code tolerance} of the float64
     * attention of {@code q} over {@code contents} of {@code layer}, with the causal mask at
     * {@code lastVisible} (an absolute position); returns the largest |out - ref| / tolerance seen.
     */
    public static double check(KvCache cache, int layer, MemorySegment q, MemorySegment out, int lastVisible, Contents contents,
                               Tolerance tolerance, String what) {
        ModelShape shape = cache.shape();
        int d = shape.headDim(), gq = shape.queriesPerKvHead();
        int first = cache.firstRetainedToken(layer);
        int rel = lastVisible == Integer.MAX_VALUE ? Integer.MAX_VALUE : lastVisible - first;
        double worst = 0;
        for (int kv = 0; kv < shape.kvHeads(); kv++) {
            double[][][] ref = contents.of(cache, layer, kv);
            double vmax = 0;
            for (double[] row : ref[1]) {
                for (double x : row) {
                    vmax = Math.max(vmax, Math.abs(x));
                }
            }
            int visible = (int) Math.min(ref[0].length, (long) rel + 1);
            // Per channel, the largest |k| of each quantized block: a fused kernel scores a block from
            // its folded parameters (zero point plus scale times code, or +-scale per spectral
            // component), whose magnitudes are those of the block's extreme keys, not of the token's
            // own key; its float32 rounding scales with them (a token near a block's zero point can
            // carry the rounding of a score assembled from terms as large as the block's range).
            int g = cache.layerConfig(layer).groupSize();
            int quantizedRows = Math.max(0, cache.quantizedTokenCount(layer) - first);
            double[][] blockMax = new double[quantizedRows / g][d];
            for (int t = 0; t < quantizedRows; t++) {
                for (int c = 0; c < d; c++) {
                    blockMax[t / g][c] = Math.max(blockMax[t / g][c], Math.abs(ref[0][t][c]));
                }
            }
            for (int j = 0; j < gq; j++) {
                int qh = kv * gq + j;
                double[] qv = new double[d];
                for (int c = 0; c < d; c++) {
                    qv[c] = q.getAtIndex(ValueLayout.JAVA_FLOAT, (long) qh * d + c);
                }
                double smax = 0;
                for (int t = 0; t < visible; t++) {
                    double s = 0;
                    for (int c = 0; c < d; c++) {
                        s += Math.abs(qv[c]) * (t < quantizedRows ? blockMax[t / g][c] : Math.abs(ref[0][t][c]));
                    }
                    smax = Math.max(smax, s / Math.sqrt(d));
                }
                double[] want = KvData.attention(qv, ref[0], ref[1], rel);
                for (int c = 0; c < d; c++) {
                    double got = out.getAtIndex(ValueLayout.JAVA_FLOAT, (long) qh * d + c);
                    double tol = tolerance.of(vmax, smax, Math.abs(want[c]));
                    double err = Math.abs(got - want[c]);
                    if (!(err <= tol)) {
                        throw new AssertionError(what + ": query head " + qh + " channel " + c + ": got " + got + " want " + want[c]
                                + " (tol " + tol + ", max|v| " + vmax + ", max score magnitude " + smax
                                + ", first retained position " + first + ")" + TestSeeds.replay());
                    }
                    worst = Math.max(worst, tol > 0 ? err / tol : 0);
                }
            }
        }
        return worst;
    }
}
