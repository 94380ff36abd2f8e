package io.vidkv.kernel;

import io.vidkv.CacheConfig;
import io.vidkv.KvCache;
import io.vidkv.LayerConfig;
import io.vidkv.ModelShape;
import io.vidkv.nativelib.Dnnl;
import io.vidkv.testing.AttentionCheck;
import io.vidkv.testing.CacheFill;
import io.vidkv.testing.KvData;
import io.vidkv.testing.ReferenceBlocks;
import io.vidkv.testing.TestConfigs;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Prefill attention (keys decoded into the oneDNN tile in row space, the in-place online softmax)
 * against float64 softmax(q K^T / sqrt(d)) V over the K and V that {@link ReferenceBlocks} decodes
 * from the packed bytes (written from METHOD.md and the layouts, not the codecs), query token by query
 * token with its causal mask.
 *
 * <p>Cases: the VidKV G = 32 tile kernel (whole and partial eight-row groups: key bits 1.3 at d = 64
 * give 19 anomalous rows and 45 components), a per-group split (scored in channel space), G = 24 and
 * uniform and FP16 layouts (through the codecs' rows), protected tokens, an empty and a partial
 * residual window, contexts that are not multiples of G or of the tile (down to a one-token last
 * tile, which oneDNN must not see as a one-column product), 1 to 8 query heads per KV head,
 * d = 64, 96, 128, large and tiny magnitudes, and queries that make the softmax nearly one-hot (their
 * later tiles raise the exp shift).
 *
 * <p>Tolerance: {@link AttentionCheck#rounding} with {@value #BOUND} units, u (max|v| (1 + S) +
 * |ref|), as for the decode kernel: oneDNN's float32 dot products and sums of P V, the weights' exp
 * (about 1 ulp) and the shift's rescale factors stay within it. Measured at most 1.06 units over the
 * cases below and both seeds (the nearly one-hot queries).
 */
class PrefillReferenceTest {

    static final double BOUND = 4;

    private static Dnnl dnnl;

    @BeforeAll
    static void open() {
        dnnl = Dnnl.create();
    }

    @AfterAll
    static void close() {
        dnnl.close();
    }

    @ParameterizedTest(name = "{0} tokens={1} n={2} d={3} gq={4} kv={5} tile={6} {7} q={8}")
    @CsvSource({
            "vidkv-1.5/1.58, 700, 20, 128, 7, 2, 256, NORMAL, 0.5",
            "vidkv-1.5/1.58, 1300, 9, 128, 8, 1, 512, NORMAL, 0.5",
            "vidkv-1.5/1.58+R=0, 640, 12, 64, 2, 2, 128, NORMAL, 0.5",
            "vidkv-1.5/1.58+kb=1.3, 517, 16, 64, 3, 2, 128, NORMAL, 0.5",
            "vidkv-1.5/1.58+pergroup+R=64, 390, 10, 64, 4, 1, 128, NORMAL, 0.5",
            "vidkv-1.5/1.66-stp, 400, 17, 128, 3, 2, 256, NORMAL, 0.5",
            "vidkv-1.5/1.58-compact, 900, 12, 128, 1, 2, 256, NORMAL, 0.5",
            "vidkv-1.5/1.58+G=24, 333, 8, 96, 5, 1, 192, NORMAL, 0.5",
            "kivi-2, 1100, 33, 64, 4, 1, 512, NORMAL, 0.5",
            "fp16, 300, 9, 64, 2, 2, 64, NORMAL, 0.5",
            "vidkv-1.5/1.58, 600, 10, 64, 4, 1, 128, NORMAL, 8",
            "vidkv-1.5/1.58, 600, 6, 64, 3, 1, 128, NEAR_FP16_MAX, 1",
            "vidkv-1.5/1.58, 400, 6, 64, 2, 1, 128, TINY, 1",
            "vidkv-1.5/1.58+terntok, 700, 20, 128, 7, 2, 256, NORMAL, 0.5",
            "vidkv-2/1.58-lsq, 900, 12, 64, 3, 1, 256, NORMAL, 0.5",
            "vidkv-2+terntok+lsternary+compact+G=64+C=2, 900, 12, 64, 3, 1, 256, NORMAL, 0.5"})
    void prefillEqualsReferenceBlocksThenAttend(String spec, int tokens, int n, int d, int gq, int kvHeads, int tile,
                                                CacheFill.Scale scale, double queryScale) {
        LayerConfig lc = TestConfigs.layer(spec);
        ModelShape shape = new ModelShape(1, gq * kvHeads, kvHeads, d);
        CacheConfig config = CacheConfig.uniform(shape, lc).withCapacity(4096);
        int qh = shape.queryHeads();
        for (int seed = 0; seed < 2; seed++) {
            SplittableRandom rnd = TestSeeds.random(spec.hashCode(), tokens, n, d, gq, kvHeads, tile, scale.ordinal(), seed);
            try (Arena arena = Arena.ofConfined();
                 KvCache cache = KvCache.create(shape, config);
                 PrefillAttention one = new PrefillAttention(cache, shape, dnnl, n, tile)) {
                CacheFill.fill(cache, arena, rnd, tokens, scale);
                int first = tokens - n - rnd.nextInt(Math.max(1, Math.min(tokens - n, 40)));
                MemorySegment q = KvData.queries(arena, rnd, n, shape, queryScale);
                MemorySegment out1 = arena.allocate((long) n * qh * d * 4);
                one.attend(0, q, out1, n, first);
                double worst = 0;
                for (int i = 0; i < n; i++) {
                    long bytes = (long) qh * d * 4;
                    worst = Math.max(worst, AttentionCheck.check(cache, 0, q.asSlice(i * bytes, bytes), out1.asSlice(i * bytes, bytes),
                            first + i, ReferenceBlocks::dequantize, AttentionCheck.rounding(BOUND),
                            spec + " seed " + seed + " query " + i + " at position " + (first + i)));
                }
                System.out.printf("PrefillReferenceTest %s seed %d: worst %.2f of %s units%n", spec, seed, worst * BOUND, BOUND);
            }
        }
    }
}
