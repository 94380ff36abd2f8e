package io.vidkv.kernel;

import io.vidkv.CacheConfig;
import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.ModelShape;
import io.vidkv.Preset;
import io.vidkv.nativelib.Dnnl;
import io.vidkv.testing.KvData;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Chunked prefill attention (oneDNN tiles) against the decode kernel run token by token at the same
 * positions, and the dense FP32 reference against float64 attention. Tolerance: 3e-4 x max |v| +
 * 3e-4 x |ref| (float32 matmuls over up to a few thousand tokens, two softmax implementations).
 */
class PrefillAttentionTest {

    private static Dnnl dnnl;

    @BeforeAll
    static void open() {
        dnnl = Dnnl.create();
    }

    @AfterAll
    static void close() {
        dnnl.close();
    }

    @ParameterizedTest(name = "{0} tokens={1} queries={2} first={3} gq={4} d={5} tile={6}")
    @CsvSource({"vidkv-1.5/1.58, 700, 20, 680, 7, 128, 256", "fp16, 300, 9, 291, 2, 64, 64", "kivi-2, 1100, 33, 1000, 4, 64, 512",
            "vidkv-1.5/1.66-stp, 520, 17, 503, 3, 64, 128", "vidkv-1.5/1.58-compact, 900, 12, 800, 1, 128, 256"})
    void prefillEqualsDecodeTokenByToken(String preset, int tokens, int n, int first, int gq, int d, int tile) {
        ModelShape shape = new ModelShape(1, 2 * gq, 2, d);
        SplittableRandom rnd = TestSeeds.random(tokens, n, first, gq, d, preset.hashCode());
        try (Arena arena = Arena.ofConfined();
             KvCache cache = KvCache.create(shape, CacheConfig.of(shape, Preset.byId(preset)).withCapacity(2048));
             DecodeAttention decode = new DecodeAttention(cache, null);
             PrefillAttention prefill = new PrefillAttention(cache, shape, dnnl, 64, tile)) {
            if (preset.contains("stp")) {
                for (int t = 0; t < tokens; t += 4) {
                    cache.protect(t);
                }
            }
            cache.append(0, KvData.keys(arena, rnd, tokens, 2, d), KvData.values(arena, rnd, tokens, 2, d), tokens, InputType.F32);
            int qh = shape.queryHeads();
            MemorySegment queries = KvData.queries(arena, rnd, n, shape, 0.4);
            MemorySegment out = arena.allocate((long) n * qh * d * 4);
            prefill.attend(0, queries, out, n, first);
            MemorySegment one = arena.allocate((long) qh * d * 4);
            double vmax = 0;
            for (int kv = 0; kv < 2; kv++) {
                for (double[] r : KvData.dequantize(cache, 0, kv)[1]) {
                    for (double x : r) {
                        vmax = Math.max(vmax, Math.abs(x));
                    }
                }
            }
            for (int i = 0; i < n; i++) {
                decode.attend(0, queries.asSlice((long) i * qh * d * 4, (long) qh * d * 4), one, first + i);
                for (int c = 0; c < qh * d; c++) {
                    double want = one.getAtIndex(ValueLayout.JAVA_FLOAT, c);
                    double got = out.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * qh * d + c);
                    double tol = 3e-4 * vmax + 3e-4 * Math.abs(want);
                    if (Math.abs(got - want) > tol) {
                        throw new AssertionError(preset + " query " + i + " element " + c + ": prefill " + got + " decode " + want
                                + TestSeeds.replay());
                    }
                }
            }
        }
    }

    @Test
    void denseReferenceMatchesFloat64() {
        ModelShape shape = new ModelShape(1, 6, 2, 64);
        SplittableRandom rnd = TestSeeds.random(41);
        int tokens = 777, n = 11, first = 766, d = 64;
        try (Arena arena = Arena.ofConfined();
             PrefillAttention dense = new PrefillAttention(null, shape, dnnl, 16, 128)) {
            MemorySegment k = KvData.keys(arena, rnd, tokens, 2, d), v = KvData.values(arena, rnd, tokens, 2, d);
            MemorySegment q = arena.allocate((long) n * 6 * d * 4), out = arena.allocate((long) n * 6 * d * 4);
            for (long i = 0; i < (long) n * 6 * d; i++) {
                q.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (0.3 * rnd.nextGaussian()));
            }
            dense.attendDense(k, v, tokens, q, out, n, first);
            assertDenseFloat64(shape, k, v, tokens, q, out, n, first);
        }
    }

    /** out ([n][queryHeads][d] of attendDense) against float64 attention, within 2e-4 of max|v| and of |ref|. */
    private static void assertDenseFloat64(ModelShape shape, MemorySegment k, MemorySegment v, int tokens, MemorySegment q,
                                           MemorySegment out, int n, int first) {
        int d = shape.headDim(), qh = shape.queryHeads(), kvh = shape.kvHeads();
        for (int i = 0; i < n; i++) {
            for (int h = 0; h < qh; h++) {
                int kv = h / shape.queriesPerKvHead();
                double[] qv = new double[d];
                double[][] kk = new double[tokens][d], vv = new double[tokens][d];
                for (int c = 0; c < d; c++) {
                    qv[c] = q.getAtIndex(ValueLayout.JAVA_FLOAT, ((long) i * qh + h) * d + c);
                }
                double vmax = 0;
                for (int t = 0; t < tokens; t++) {
                    for (int c = 0; c < d; c++) {
                        kk[t][c] = k.getAtIndex(ValueLayout.JAVA_FLOAT, ((long) t * kvh + kv) * d + c);
                        vv[t][c] = v.getAtIndex(ValueLayout.JAVA_FLOAT, ((long) t * kvh + kv) * d + c);
                        vmax = Math.max(vmax, Math.abs(vv[t][c]));
                    }
                }
                double[] ref = KvData.attention(qv, kk, vv, first + i);
                for (int c = 0; c < d; c++) {
                    double got = out.getAtIndex(ValueLayout.JAVA_FLOAT, ((long) i * qh + h) * d + c);
                    if (Math.abs(got - ref[c]) > 2e-4 * vmax + 2e-4 * Math.abs(ref[c])) {
                        throw new AssertionError("query " + i + " head " + h + " c " + c + ": " + got + " vs " + ref[c] + TestSeeds.replay());
                    }
                }
            }
        }
    }

    /**
     * Scores that jump by far more than the exp shift's headroom after the first tile: inside a tile's
     * whole groups of sixteen (the vector pass stops and the shift is raised), in its last scores
     * (the scalar tail), and at the last visible token of a causal row. Against float64 attention.
     */
    @Test
    void laterScoresFarAboveTheShiftAreRescaled() {
        ModelShape shape = new ModelShape(1, 2, 1, 64);
        SplittableRandom rnd = TestSeeds.random(43);
        int tokens = 777, n = 5, first = 772, d = 64;
        try (Arena arena = Arena.ofConfined();
             PrefillAttention dense = new PrefillAttention(null, shape, dnnl, 8, 128)) {
            MemorySegment k = KvData.keys(arena, rnd, tokens, 1, d), v = KvData.values(arena, rnd, tokens, 1, d);
            MemorySegment q = arena.allocate((long) n * 2 * d * 4), out = arena.allocate((long) n * 2 * d * 4);
            for (long i = 0; i < (long) n * 2 * d; i++) {
                q.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (0.3 * rnd.nextGaussian()));
            }
            // keys along every query's direction (sum of the queries), 30 and 60 times longer, at a
            // whole-group position of a later tile, in the last tile's tail and at the last position
            for (int t : new int[]{300, 500, 770, 776}) {
                double f = t < 700 ? 30 : 60;
                for (int c = 0; c < d; c++) {
                    double sum = 0;
                    for (int r = 0; r < n * 2; r++) {
                        sum += q.getAtIndex(ValueLayout.JAVA_FLOAT, (long) r * d + c);
                    }
                    k.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * d + c, (float) (f * sum / Math.sqrt(n * 2)));
                }
            }
            dense.attendDense(k, v, tokens, q, out, n, first);
            assertDenseFloat64(shape, k, v, tokens, q, out, n, first);
        }
    }

    @Test
    void badCallsAreRejected() {
        ModelShape shape = new ModelShape(1, 2, 1, 64);
        try (Arena arena = Arena.ofConfined(); PrefillAttention p = new PrefillAttention(null, shape, dnnl, 4, 64)) {
            MemorySegment x = arena.allocate(4L * 2 * 64 * 5);
            assertThrows(IllegalArgumentException.class, () -> p.attendDense(x, x, 1, x, x, 5, 0));
            assertThrows(IllegalArgumentException.class, () -> p.attendDense(x, x, 1, x, x, 1, -1));
            assertThrows(IllegalArgumentException.class, () -> new PrefillAttention(null, shape, dnnl, 4, 100));
        }
    }
}
