package io.vidkv.kernel;

import io.vidkv.CacheConfig;
import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.LayerConfig;
import io.vidkv.ModelShape;
import io.vidkv.ParallelRunner;
import io.vidkv.Preset;
import io.vidkv.testing.AttentionCheck;
import io.vidkv.testing.KvData;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fused decode kernel against "dequantize the same packed cache with the codecs, then float64
 * attention" (including the reference mode; {@link FusedAttentionReferenceTest} checks against an
 * independent decoder). Tolerance: |out - ref| <= 4 u (max|v| (1 + S) + |ref|), u = 2^-24, S the
 * largest score magnitude sum_c |q_c k_c| / sqrt(d) ({@link AttentionCheck#rounding}): float32
 * scores of d terms and a float32 online softmax. Measured at most 0.35 of those units here (1.3
 * over the wider cases of {@link FusedAttentionReferenceTest}), where the old bound of
 * 2e-4 (max|v| + |ref|) was ~100x the measured error.
 */
class DecodeAttentionTest {

    static final double BOUND = 4;

    @ParameterizedTest(name = "{0} tokens={1} d={2} gq={3} kv={4} G={5} R={6} threads={7}")
    @CsvSource({
            "vidkv-1.5/1.58, 300, 128, 7, 2, 32, 128, 2",
            "vidkv-1.5/1.58, 1, 64, 1, 1, 32, 128, 1",
            "vidkv-1.5/1.58, 2600, 64, 4, 1, 32, 128, 2",
            "vidkv-1.5/1.58, 161, 128, 8, 1, 32, 0, 1",
            "vidkv-1.25/1.58, 517, 64, 2, 2, 16, 40, 2",
            "vidkv-1.5/1.66-stp, 400, 128, 3, 2, 32, 128, 2",
            "vidkv-1.75/1.66-stp, 257, 64, 2, 1, 32, 32, 1",
            "vidkv-1.5/1.58-compact, 700, 128, 7, 1, 64, 128, 2",
            "vidkv-1.5/2, 333, 64, 5, 1, 32, 128, 1",
            "kivi-2, 450, 128, 2, 2, 32, 128, 2",
            "vidkv-2, 290, 64, 6, 1, 32, 64, 2",
            "fp16, 1100, 128, 7, 1, 32, 128, 2",
            "vidkv-reference-1.5/1.58, 420, 64, 2, 1, 32, 128, 2",
            "vidkv-1.5/1.58-pergroup, 390, 64, 4, 2, 32, 64, 2"})
    void fusedEqualsDequantizeThenAttend(String preset, int tokens, int d, int gq, int kvHeads, int g, int r, int threads) {
        ModelShape shape = new ModelShape(2, gq * kvHeads, kvHeads, d);
        boolean perGroup = preset.endsWith("-pergroup");
        LayerConfig lc = Preset.byId(preset.replace("-pergroup", "")).layerConfig().withGroupSize(g).withResidual(r);
        if (perGroup) {
            lc = lc.withKeys(lc.keys().withSplitPerGroup(true));
        }
        CacheConfig config = CacheConfig.uniform(shape, lc).withCapacity(4096);
        SplittableRandom rnd = TestSeeds.random(tokens, d, gq, kvHeads, g, r, preset.hashCode());
        try (Arena arena = Arena.ofConfined();
             ParallelRunner runner = new ParallelRunner(threads);
             KvCache cache = KvCache.create(shape, config, runner);
             DecodeAttention attn = new DecodeAttention(cache, runner)) {
            if (preset.contains("stp")) {
                for (int t = 0; t < tokens; t += 1 + rnd.nextInt(6)) {
                    cache.protect(t);
                }
            }
            MemorySegment k = KvData.keys(arena, rnd, tokens, kvHeads, d);
            MemorySegment v = KvData.values(arena, rnd, tokens, kvHeads, d);
            for (int layer = 0; layer < 2; layer++) {
                cache.append(layer, k, v, tokens, InputType.F32);
            }
            MemorySegment q = KvData.queries(arena, rnd, shape, 0.5);
            MemorySegment out = arena.allocate((long) shape.queryHeads() * d * 4);
            int layer = 1;
            int lastVisible = rnd.nextBoolean() ? Integer.MAX_VALUE : rnd.nextInt(tokens);
            attn.attend(layer, q, out, lastVisible);
            AttentionCheck.check(cache, layer, q, out, lastVisible, KvData::dequantize, AttentionCheck.rounding(BOUND), preset);
        }
    }

    /** Extreme but finite inputs: scores in the thousands (a one-hot softmax) and values near FP16 limits. */
    @ParameterizedTest(name = "{0} keyScale={1}")
    @CsvSource({"vidkv-1.5/1.58, 400", "fp16, 400", "kivi-2, 1000", "vidkv-1.5/1.58-compact, 200"})
    void extremeMagnitudesStayFiniteAndExact(String preset, double keyScale) {
        ModelShape shape = new ModelShape(1, 4, 1, 64);
        SplittableRandom rnd = TestSeeds.random(keyScale > 300 ? 1 : 2, preset.hashCode());
        try (Arena arena = Arena.ofConfined(); KvCache cache = KvCache.create(shape, CacheConfig.of(shape, Preset.byId(preset)).withCapacity(1024));
             DecodeAttention attn = new DecodeAttention(cache, null)) {
            int tokens = 600;
            MemorySegment k = KvData.keys(arena, rnd, tokens, 1, 64);
            MemorySegment v = KvData.values(arena, rnd, tokens, 1, 64);
            for (long i = 0; i < (long) tokens * 64; i++) {
                k.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (k.getAtIndex(ValueLayout.JAVA_FLOAT, i) * keyScale / 10));
                v.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) Math.max(-6e4, Math.min(6e4, v.getAtIndex(ValueLayout.JAVA_FLOAT, i) * 3000)));
            }
            cache.append(0, k, v, tokens, InputType.F32);
            MemorySegment q = KvData.queries(arena, rnd, shape, 1.0);
            MemorySegment out = arena.allocate(4L * 64 * 4);
            attn.attend(0, q, out);
            for (float x : out.toArray(ValueLayout.JAVA_FLOAT)) {
                assertTrue(Float.isFinite(x), "non-finite output");
            }
            AttentionCheck.check(cache, 0, q, out, Integer.MAX_VALUE, KvData::dequantize, AttentionCheck.rounding(BOUND),
                    preset + " keyScale " + keyScale);
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"vidkv-1.5/1.58", "fp16", "kivi-2"})
    void resultsAreIdenticalForAnyThreadCount(String preset) {
        ModelShape shape = new ModelShape(1, 8, 2, 64);
        CacheConfig config = CacheConfig.of(shape, Preset.byId(preset)).withCapacity(8192);
        SplittableRandom rnd = TestSeeds.random(preset.hashCode(), 31);
        float[] first = null;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment k = KvData.keys(arena, rnd, 3000, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, 3000, 2, 64);
            MemorySegment q = KvData.queries(arena, rnd, shape, 0.3);
            for (int threads = 1; threads <= 3; threads++) {
                try (ParallelRunner runner = new ParallelRunner(threads);
                     KvCache cache = KvCache.create(shape, config, runner);
                     DecodeAttention attn = new DecodeAttention(cache, runner)) {
                    cache.append(0, k, v, 3000, InputType.F32);
                    MemorySegment out = arena.allocate(8L * 64 * 4);
                    attn.attend(0, q, out);
                    float[] got = out.toArray(ValueLayout.JAVA_FLOAT);
                    if (first == null) {
                        first = got;
                    } else {
                        assertArrayEquals(first, got, "threads=" + threads);
                    }
                }
            }
        }
        assertTrue(first != null);
    }
}
