package io.vidkv.eval;

import io.vidkv.DequantizedHead;
import io.vidkv.KvCache;

/**
 * What one (layer, KV head) of a cache holds, as float64 rows for the reconstruction metrics and the
 * "dequantize, then attend" reference: {@link KvCache#dequantize(int, int)} widened to double.
 */
public final class CacheContents {

    private CacheContents() {
    }

    /**
     * {keys[tokens][d], values[tokens][d]} of (layer, head), the retained tokens in position order:
     * row i is position {@code cache.firstRetainedToken(layer) + i} (0 unless pages were evicted).
     */
    public static double[][][] dequantize(KvCache cache, int layer, int head) {
        DequantizedHead h = cache.dequantize(layer, head);
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
}
