package io.vidkv;

import io.vidkv.testing.KvData;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link KvCache#appendLayers}: the same bytes as one {@link KvCache#append} per layer (on one thread
 * and on a 2-thread runner, with one and with several KV heads, prefill then single decode tokens),
 * and one append for its failure policy: a bad value, a capacity overrun or a pool too small for the
 * last layer rejects the whole call with no layer changed and no page kept.
 */
class AppendLayersTest {

    @ParameterizedTest(name = "{0} kvHeads={1} threads={2}")
    @CsvSource({"vidkv-1.5/1.58, 1, 2", "vidkv-1.5/1.58, 2, 2", "vidkv-1.5/1.58, 3, 1", "kivi-2, 1, 2",
            "vidkv-2/1.58-lsq, 2, 2", "vidkv-1.5/1.66-stp, 1, 2", "fp16, 2, 2", "vidkv-reference-1.5/1.58, 1, 2"})
    void givesTheBytesOfOneAppendPerLayer(String preset, int kvHeads, int threads) {
        ModelShape shape = new ModelShape(3, 2 * kvHeads, kvHeads, 64);
        CacheConfig config = CacheConfig.of(shape, Preset.byId(preset)).withCapacity(2048).withPageBytes(16384);
        SplittableRandom rnd = TestSeeds.random(kvHeads, threads, preset.hashCode());
        int prefill = 300 + rnd.nextInt(200), decode = 40;
        try (Arena arena = Arena.ofShared();
             ParallelRunner runner = new ParallelRunner(threads);
             KvCache together = KvCache.create(shape, config, runner);
             KvCache apart = KvCache.create(shape, config, runner)) {
            if (preset.contains("stp")) {
                for (int t = 0; t < prefill; t += 3) {
                    together.protect(t);
                    apart.protect(t);
                }
            }
            MemorySegment[] k = new MemorySegment[shape.layers()], v = new MemorySegment[shape.layers()];
            for (int l = 0; l < shape.layers(); l++) {
                k[l] = KvData.keys(arena, rnd, prefill + decode, kvHeads, 64);
                v[l] = KvData.values(arena, rnd, prefill + decode, kvHeads, 64);
            }
            together.appendLayers(0, k, v, prefill, InputType.F32);
            for (int l = 0; l < shape.layers(); l++) {
                apart.append(l, k[l], v[l], prefill, InputType.F32);
            }
            MemorySegment[] k1 = new MemorySegment[2], v1 = new MemorySegment[2];
            for (int t = prefill; t < prefill + decode; t++) { // decode steps: layers 1 and 2 together, layer 0 alone
                for (int l = 0; l < shape.layers(); l++) {
                    apart.append(l, token(k[l], t, shape), token(v[l], t, shape), 1, InputType.F32);
                }
                together.append(0, token(k[0], t, shape), token(v[0], t, shape), 1, InputType.F32);
                for (int i = 0; i < 2; i++) {
                    k1[i] = token(k[i + 1], t, shape);
                    v1[i] = token(v[i + 1], t, shape);
                }
                together.appendLayers(1, k1, v1, 1, InputType.F32);
            }
            for (int l = 0; l < shape.layers(); l++) {
                assertEquals(prefill + decode, together.tokenCount(l));
            }
            assertTrue(together.quantizedTokenCount(2) > 0, "blocks were written");
            assertArrayEquals(KvCacheTest.snapshot(apart), KvCacheTest.snapshot(together), preset + TestSeeds.replay());
            for (int l = 0; l < shape.layers(); l++) {
                for (int h = 0; h < kvHeads; h++) {
                    double[][][] a = KvData.dequantize(apart, l, h), b = KvData.dequantize(together, l, h);
                    for (int i = 0; i < a.length; i++) {
                        for (int t = 0; t < a[i].length; t++) {
                            assertArrayEquals(a[i][t], b[i][t], 0.0, "layer " + l + " head " + h + " token " + t);
                        }
                    }
                }
            }
        }
    }

    private static MemorySegment token(MemorySegment seg, int t, ModelShape shape) {
        long per = (long) shape.tokenElements() * 4;
        return seg.asSlice(t * per, per);
    }

    @Test
    void aBadValueInTheLastLayerRejectsEveryLayer() {
        ModelShape shape = new ModelShape(3, 2, 1, 64);
        CacheConfig config = CacheConfig.of(shape, Preset.VIDKV_15_158).withCapacity(1024);
        SplittableRandom rnd = TestSeeds.random(31);
        try (Arena arena = Arena.ofShared(); ParallelRunner runner = new ParallelRunner(2);
             KvCache cache = KvCache.create(shape, config, runner)) {
            MemorySegment[] k = new MemorySegment[3], v = new MemorySegment[3];
            for (int l = 0; l < 3; l++) {
                k[l] = KvData.keys(arena, rnd, 200, 1, 64);
                v[l] = KvData.values(arena, rnd, 200, 1, 64);
            }
            cache.appendLayers(0, k, v, 100, InputType.F32);
            byte[] before = KvCacheTest.snapshot(cache);
            long pages = cache.pagePool().pagesInUse();
            v[2].setAtIndex(ValueLayout.JAVA_FLOAT, 150L * 64 + 7, Float.NaN);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> cache.appendLayers(0, k, v, 200, InputType.F32));
            assertTrue(e.getMessage().contains("layer 2") && e.getMessage().contains("token 150") && e.getMessage().contains("channel 7"),
                    e.getMessage());
            assertArrayEquals(before, KvCacheTest.snapshot(cache));
            assertEquals(pages, cache.pagePool().pagesInUse());
            for (int l = 0; l < 3; l++) {
                assertEquals(100, cache.tokenCount(l));
            }
            assertThrows(IllegalArgumentException.class, () -> cache.appendLayers(1, k, v, 10, InputType.F32),
                    "layers 1..3 of a 3-layer model");
            assertThrows(IllegalArgumentException.class, () -> cache.appendLayers(0, k, new MemorySegment[2], 10, InputType.F32));
            assertThrows(IllegalArgumentException.class, () -> cache.appendLayers(0, new MemorySegment[0], new MemorySegment[0], 1,
                    InputType.F32));
            assertArrayEquals(before, KvCacheTest.snapshot(cache));
            assertEquals(pages, cache.pagePool().pagesInUse());
        }
    }

    @Test
    void aCapacityOverrunInOneLayerRejectsEveryLayer() {
        ModelShape shape = new ModelShape(2, 2, 1, 64);
        CacheConfig config = CacheConfig.of(shape, Preset.VIDKV_15_158).withCapacity(400);
        SplittableRandom rnd = TestSeeds.random(32);
        try (Arena arena = Arena.ofShared(); KvCache cache = KvCache.create(shape, config)) {
            MemorySegment k = KvData.keys(arena, rnd, 400, 1, 64), v = KvData.values(arena, rnd, 400, 1, 64);
            cache.append(1, k, v, 250, InputType.F32); // layer 1 holds 250 tokens, layer 0 none
            byte[] before = KvCacheTest.snapshot(cache);
            CapacityExceededException e = assertThrows(CapacityExceededException.class,
                    () -> cache.appendLayers(0, new MemorySegment[]{k, k}, new MemorySegment[]{v, v}, 200, InputType.F32));
            assertTrue(e.getMessage().startsWith("layer 1:"), e.getMessage());
            assertArrayEquals(before, KvCacheTest.snapshot(cache));
            assertEquals(0, cache.tokenCount(0));
        }
    }

    @Test
    void aPoolTooSmallForTheLastLayerRejectsEveryLayerAndKeepsNoPage() {
        ModelShape shape = new ModelShape(3, 2, 1, 64);
        CacheConfig config = CacheConfig.of(shape, Preset.VIDKV_15_158).withCapacity(4096).withPageBytes(4096);
        SplittableRandom rnd = TestSeeds.random(33);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment k = KvData.keys(arena, rnd, 1200, 1, 64), v = KvData.values(arena, rnd, 1200, 1, 64);
            MemorySegment[] two = {k, k}, twoV = {v, v}, three = {k, k, k}, threeV = {v, v, v};
            int pages = 1; // the smallest pool that takes two layers of 1,200 tokens (their reservation)
            while (!fits(shape, config, pages, two, twoV)) {
                pages++;
            }
            try (PagePool pool = PagePool.ofBytes(4096, 4096L * pages); KvCache cache = KvCache.create(shape, config, pool, null)) {
                CapacityExceededException e = assertThrows(CapacityExceededException.class,
                        () -> cache.appendLayers(0, three, threeV, 1200, InputType.F32));
                assertTrue(e.getMessage().startsWith("layer 2:"), e.getMessage());
                assertEquals(0, pool.pagesInUse());
                for (int l = 0; l < 3; l++) {
                    assertEquals(0, cache.tokenCount(l));
                }
                cache.appendLayers(0, two, twoV, 1200, InputType.F32); // still usable
                assertEquals(1200, cache.tokenCount(1));
            }
        }
    }

    private static boolean fits(ModelShape shape, CacheConfig config, int pages, MemorySegment[] k, MemorySegment[] v) {
        try (PagePool pool = PagePool.ofBytes(4096, 4096L * pages); KvCache cache = KvCache.create(shape, config, pool, null)) {
            cache.appendLayers(0, k, v, 1200, InputType.F32);
            return true;
        } catch (CapacityExceededException e) {
            return false;
        }
    }
}
