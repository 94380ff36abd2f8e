package io.vidkv.kernel;

import io.vidkv.CacheConfig;
import io.vidkv.KvCache;
import io.vidkv.LayerConfig;
import io.vidkv.ModelShape;
import io.vidkv.ParallelRunner;
import io.vidkv.testing.AttentionCheck;
import io.vidkv.testing.CacheFill;
import io.vidkv.testing.KvData;
import io.vidkv.testing.ReferenceBlocks;
import io.vidkv.testing.TestConfigs;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * The fused decode kernel against float64 softmax(q K^T / sqrt(d)) V over the K and V that
 * {@link ReferenceBlocks} decodes from the packed bytes (written from METHOD.md and the layouts,
 * not the codecs), so a bug shared by a codec's dequantize and the kernel is still caught.
 *
 * <p>Cases: contexts that are not multiples of G, an empty (R = 0), partial and full residual
 * window and a cache that is all window; 1 to 12 query heads per KV head (one or two lane groups);
 * d = 64, 96, 128; an odd number of normal channels (key bits 1.3 at d = 64: 19 anomalous, 45 normal);
 * protected tokens; values near +-65504 and keys and values of 1e-30; queries that make the softmax
 * nearly one-hot; each with every token visible and with a random causal mask, on 1 and 2 threads.
 *
 * <p>Tolerance per output element ({@link AttentionCheck#rounding}):
 * |out - ref| <= 4 u (max|v| (1 + S) + |ref|), u = 2^-24, S the largest score magnitude sum_c |q_c k_c| / sqrt(d) over the visible tokens. Float32 scores carry an
 * absolute error of a few u S (a d-term dot product, or the table sums of the row-space query),
 * which perturbs each softmax weight by that much relatively and the output by that times max|v|;
 * the exp polynomial (~1 ulp), the float32 weighted sums and the final division add a few u
 * (max|v| + |ref|). Measured at most 1.34 of these units over the cases below and four seeds.
 */
class FusedAttentionReferenceTest {

    static final double BOUND = 4;

    @ParameterizedTest(name = "{0} tokens={1} d={2} gq={3} kv={4} threads={5} {6} q={7}")
    @CsvSource({
            "vidkv-1.5/1.58, 300, 128, 7, 2, 2, NORMAL, 0.5",
            "vidkv-1.5/1.58+R=0, 161, 128, 8, 1, 1, NORMAL, 0.5",
            "vidkv-1.5/1.58+R=0, 256, 64, 1, 1, 1, NORMAL, 0.5",
            "vidkv-1.5/1.58, 256, 64, 2, 1, 1, NORMAL, 0.5",
            "vidkv-1.5/1.58, 100, 64, 2, 1, 2, NORMAL, 0.5",
            "vidkv-1.5/1.58, 2600, 64, 4, 1, 2, NORMAL, 0.5",
            "vidkv-1.5/1.58+kb=1.3, 517, 64, 3, 2, 2, NORMAL, 0.5",
            "vidkv-1.5/1.58+kb=1.3+flat, 333, 64, 12, 1, 2, NORMAL, 0.5",
            "vidkv-1.25/1.58+planes+G=16+R=40, 517, 96, 9, 1, 2, NORMAL, 0.5",
            "vidkv-1.5/1.66-stp, 400, 128, 3, 2, 2, NORMAL, 0.5",
            "vidkv-1.75/1.66-stp+planes+R=32, 257, 64, 10, 1, 1, NORMAL, 0.5",
            "vidkv-1.5/1.66-stp+G=24+kb=1.3, 333, 96, 5, 1, 2, NORMAL, 0.5",
            "vidkv-1.5/1.58-compact, 700, 128, 5, 1, 2, NORMAL, 0.5",
            "vidkv-1.5/1.58-compact+planes+kb=1.3, 500, 64, 9, 1, 1, NORMAL, 0.5",
            "vidkv-1.5/2, 333, 96, 4, 1, 1, NORMAL, 0.5",
            "kivi-2, 450, 128, 2, 2, 2, NORMAL, 0.5",
            "kivi-2+fit, 350, 64, 4, 1, 2, NORMAL, 0.5",
            "vidkv-2+k=3:ch+v=2:tok+fit+compact, 300, 64, 3, 1, 1, NORMAL, 0.5",
            "vidkv-1.5/1.58+lsternary, 333, 128, 7, 1, 2, NORMAL, 0.5",
            "vidkv-1.5/1.66-stp+lsternary+G=24, 300, 64, 5, 1, 1, NORMAL, 0.5",
            "vidkv-2+G=24, 290, 64, 6, 1, 2, NORMAL, 0.5",
            "vidkv-2+k=3:ch+v=4:tok+G=40, 300, 96, 2, 1, 1, NORMAL, 0.5",
            "vidkv-2+k=4:tok+v=1:ch, 300, 64, 1, 1, 2, NORMAL, 0.5",
            "vidkv-2+k=8:ch+v=8:ch+compact+G=8, 200, 64, 8, 1, 1, NORMAL, 0.5",
            "vidkv-2+k=1:ch+v=3:ch+compact+G=16, 250, 128, 11, 1, 2, NORMAL, 0.5",
            "vidkv-2+k=2:tok+v=2:tok+compact, 300, 128, 3, 1, 2, NORMAL, 0.5",
            "fp16, 1100, 128, 11, 1, 2, NORMAL, 0.5",
            "vidkv-1.5/1.58+pergroup+R=64, 390, 64, 4, 2, 2, NORMAL, 0.5",
            "vidkv-1.5/1.58+pergroup+kb=1.3+planes, 290, 64, 12, 1, 1, NORMAL, 0.5",
            "vidkv-1.5/1.58, 600, 64, 4, 1, 1, NORMAL, 8",
            "kivi-2, 600, 64, 4, 1, 2, NORMAL, 8",
            "fp16, 600, 64, 4, 1, 1, NEAR_FP16_MAX, 1",
            "kivi-2, 600, 64, 4, 1, 2, NEAR_FP16_MAX, 1",
            "vidkv-1.5/1.58, 600, 64, 3, 1, 1, NEAR_FP16_MAX, 1",
            "vidkv-1.5/1.66-stp, 600, 64, 9, 1, 2, NEAR_FP16_MAX, 1",
            "vidkv-1.5/1.58-compact, 700, 64, 2, 1, 1, NEAR_FP16_MAX, 1",
            "vidkv-1.5/1.58, 400, 64, 2, 1, 1, TINY, 1",
            "fp16, 400, 64, 2, 1, 2, TINY, 1",
            "vidkv-1.5/1.58-compact+planes, 500, 96, 3, 1, 1, TINY, 1",
            "vidkv-1.5/1.58+terntok, 300, 128, 7, 2, 2, NORMAL, 0.5",
            "vidkv-1.5/1.58+terntok+tok4, 300, 128, 7, 2, 2, NORMAL, 0.5",
            "vidkv-2/1.58-lsq, 700, 128, 5, 1, 2, NORMAL, 0.5",
            "vidkv-1.5/1.58+terntok+tok4, 600, 64, 3, 1, 1, NEAR_FP16_MAX, 1",
            "vidkv-1.5/1.58+terntok+compact+tok4, 500, 64, 2, 1, 2, TINY, 1",
            "vidkv-1.5/1.58+terntok+tok3, 300, 128, 7, 2, 2, NORMAL, 0.5",
            "vidkv-1.5/1.58+terntok+compact+tok3, 600, 32, 3, 3, 1, NEAR_FP16_MAX, 1",
            "vidkv-1.5/1.58+terntok+lsternary+compact+G=64+C=2, 700, 128, 5, 1, 2, NORMAL, 0.5",
            "vidkv-2+terntok+lsternary+G=24, 333, 96, 3, 1, 1, NORMAL, 0.5",
            "vidkv-1.5/1.58+terntok+G=16+R=0, 290, 64, 12, 1, 1, NORMAL, 8",
            "vidkv-1.5/1.58+terntok, 600, 64, 3, 1, 1, NEAR_FP16_MAX, 1",
            "vidkv-1.5/1.58+terntok+compact, 500, 64, 2, 1, 2, TINY, 1"})
    void fusedEqualsReferenceBlocksThenAttend(String spec, int tokens, int d, int gq, int kvHeads, int threads,
                                              CacheFill.Scale scale, double queryScale) {
        LayerConfig lc = TestConfigs.layer(spec);
        ModelShape shape = new ModelShape(1, gq * kvHeads, kvHeads, d);
        CacheConfig config = CacheConfig.uniform(shape, lc).withCapacity(4096);
        for (int seed = 0; seed < 2; seed++) {
            SplittableRandom rnd = TestSeeds.random(spec.hashCode(), tokens, d, gq, kvHeads, threads, scale.ordinal(), seed);
            try (Arena arena = Arena.ofConfined();
                 ParallelRunner runner = new ParallelRunner(threads);
                 KvCache cache = KvCache.create(shape, config, runner);
                 DecodeAttention attn = new DecodeAttention(cache, threads == 1 ? null : runner)) {
                CacheFill.fill(cache, arena, rnd, tokens, scale);
                MemorySegment q = KvData.queries(arena, rnd, shape, queryScale);
                MemorySegment out = arena.allocate((long) shape.queryHeads() * d * 4);
                for (int lastVisible : new int[]{Integer.MAX_VALUE, rnd.nextInt(tokens)}) {
                    attn.attend(0, q, out, lastVisible);
                    AttentionCheck.check(cache, 0, q, out, lastVisible, ReferenceBlocks::dequantize,
                            AttentionCheck.rounding(BOUND),
                            spec + " seed " + seed + " lastVisible " + lastVisible);
                }
            }
        }
    }
}
