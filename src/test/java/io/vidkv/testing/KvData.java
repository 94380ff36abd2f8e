package io.vidkv.testing;

import io.vidkv.KvCache;
import io.vidkv.ModelShape;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** Random K/V shaped like a video LLM's (persistent outlier key channels), and float64 helpers. */
public final class KvData {

    private KvData() {
    }

    /**
     * [tokens, kvHeads, d] float32 keys: Gaussian channels, a quarter of them "outlier" channels
     * with 6x the scale and an offset; values with per-token magnitudes varying over two decades.
     */
    public static MemorySegment keys(Arena arena, SplittableRandom rnd, int tokens, int kvHeads, int d) {
        MemorySegment seg = arena.allocate((long) tokens * kvHeads * d * 4, 64);
        float[] chanScale = new float[kvHeads * d];
        float[] chanOffset = new float[kvHeads * d];
        for (int i = 0; i < chanScale.length; i++) {
            boolean outlier = rnd.nextInt(4) == 0;
            chanScale[i] = (float) (outlier ? 6 * (1 + rnd.nextDouble()) : 0.5 + rnd.nextDouble());
            chanOffset[i] = (float) (outlier ? rnd.nextGaussian() * 4 : 0);
        }
        for (int t = 0; t < tokens; t++) {
            for (int i = 0; i < kvHeads * d; i++) {
                seg.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * kvHeads * d + i,
                        (float) (chanOffset[i] + chanScale[i] * rnd.nextGaussian()));
            }
        }
        return seg;
    }

    public static MemorySegment values(Arena arena, SplittableRandom rnd, int tokens, int kvHeads, int d) {
        MemorySegment seg = arena.allocate((long) tokens * kvHeads * d * 4, 64);
        for (int t = 0; t < tokens; t++) {
            double tokenScale = Math.exp(rnd.nextDouble(-2, 2));
            for (int i = 0; i < kvHeads * d; i++) {
                seg.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * kvHeads * d + i, (float) (tokenScale * rnd.nextGaussian()));
            }
        }
        return seg;
    }

    public static MemorySegment queries(Arena arena, SplittableRandom rnd, ModelShape shape, double scale) {
        return queries(arena, rnd, 1, shape, scale);
    }

    /** [tokens, queryHeads, d] float32 Gaussian queries of standard deviation {@code scale}. */
    public static MemorySegment queries(Arena arena, SplittableRandom rnd, int tokens, ModelShape shape, double scale) {
        long n = (long) tokens * shape.queryHeads() * shape.headDim();
        MemorySegment seg = arena.allocate(n * 4, 64);
        for (long i = 0; i < n; i++) {
            seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (scale * rnd.nextGaussian()));
        }
        return seg;
    }

    /** Bit t: token {@code first + t} is protected ({@code count} at most 64), from the public {@code isProtected}. */
    public static long protectedMask(KvCache cache, int first, int count) {
        long m = 0;
        for (int t = 0; t < count; t++) {
            m |= cache.isProtected(first + t) ? 1L << t : 0;
        }
        return m;
    }

    /** The cache of (layer, head) dequantized: [tokens][d] keys and values in channel space. */
    public static double[][][] dequantize(KvCache cache, int layer, int head) {
        io.vidkv.DequantizedHead h = cache.dequantize(layer, head);
        double[][] k = new double[h.tokens()][h.headDim()];
        double[][] v = new double[h.tokens()][h.headDim()];
        for (int t = 0; t < h.tokens(); t++) {
            for (int c = 0; c < h.headDim(); c++) {
                k[t][c] = h.key(t, c);
                v[t][c] = h.value(t, c);
            }
        }
        return new double[][][]{k, v};
    }

    /** softmax(q . k_t / sqrt(d)) weighted sum of v_t over t <= lastVisible, in float64. */
    public static double[] attention(double[] q, double[][] k, double[][] v, int lastVisible) {
        int n = (int) Math.min(k.length, (long) lastVisible + 1);
        int d = q.length;
        double[] s = new double[n];
        double m = Double.NEGATIVE_INFINITY;
        for (int t = 0; t < n; t++) {
            double dot = 0;
            for (int c = 0; c < d; c++) {
                dot += q[c] * k[t][c];
            }
            s[t] = dot / Math.sqrt(d);
            m = Math.max(m, s[t]);
        }
        double l = 0;
        double[] o = new double[d];
        for (int t = 0; t < n; t++) {
            double p = Math.exp(s[t] - m);
            l += p;
            for (int c = 0; c < d; c++) {
                o[c] += p * v[t][c];
            }
        }
        for (int c = 0; c < d; c++) {
            o[c] /= l;
        }
        return o;
    }

    /**
     * Asserts that {@code out} ([queryHeads, d] float32) is "dequantize the retained tokens of
     * {@code layer} with the codecs, then float64 attention" for {@code q} with the causal mask at
     * {@code lastVisible} (an absolute position; evicted positions are not part of the reference),
     * within {@code tolerance x max|v| + tolerance x |ref|}.
     */
    public static void assertAttention(KvCache cache, int layer, MemorySegment q, MemorySegment out, int lastVisible,
                                       double tolerance, String what) {
        AttentionCheck.check(cache, layer, q, out, lastVisible, KvData::dequantize,
                (vmax, smax, ref) -> tolerance * vmax + tolerance * ref, what);
    }
}
