package io.vidkv.eval;

import io.vidkv.HeadStream;
import io.vidkv.KvCache;
import io.vidkv.codec.CodecScratch;

import java.lang.foreign.ValueLayout;

/**
 * What one (layer, KV head) of a cache holds, dequantized to channel space in float64: every block
 * through its codecs' dequantize, then the residual window as stored. The reference the kernels are
 * compared with ("dequantize, then attend") and the input of the reconstruction metrics.
 */
public final class CacheContents {

    private CacheContents() {
    }

    /**
     * {keys[tokens][d], values[tokens][d]} of (layer, head), the retained tokens in position order:
     * row i is position {@code cache.firstRetainedToken(layer) + i} (0 unless pages were evicted).
     */
    public static double[][][] dequantize(KvCache cache, int layer, int head) {
        HeadStream hs = cache.stream(layer, head);
        int d = cache.shape().headDim(), g = cache.layerConfig(layer).groupSize(), n = cache.retainedTokenCount(layer);
        double[][] k = new double[n][d];
        double[][] v = new double[n][d];
        float[] buf = new float[g * d];
        long keyBytes = cache.keyCodec(layer).blockBytes();
        try (CodecScratch s = new CodecScratch(d, g, cache.shape().queriesPerKvHead())) {
            for (int b = 0; b < hs.blockCount(); b++) {
                cache.keyCodec(layer).dequantize(hs.page(b), hs.offset(b), hs.state(), buf, s);
                copy(buf, k, b * g, g, d);
                cache.valueCodec(layer).decode(hs.page(b), hs.offset(b) + keyBytes, hs.state(), buf, 0, s);
                copy(buf, v, b * g, g, d);
            }
        }
        for (int j = 0; j < hs.windowCount(); j++) {
            int t = hs.blockCount() * g + j;
            long base = (long) hs.windowSlot(j) * d * 4;
            for (int c = 0; c < d; c++) {
                k[t][c] = hs.windowKeys().get(ValueLayout.JAVA_FLOAT, base + 4L * c);
                v[t][c] = hs.windowValues().get(ValueLayout.JAVA_FLOAT, base + 4L * c);
            }
        }
        return new double[][][]{k, v};
    }

    private static void copy(float[] buf, double[][] out, int row0, int g, int d) {
        for (int t = 0; t < g; t++) {
            for (int c = 0; c < d; c++) {
                out[row0 + t][c] = buf[t * d + c];
            }
        }
    }
}
