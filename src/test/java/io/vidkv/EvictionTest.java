package io.vidkv;

import io.vidkv.kernel.DecodeAttention;
import io.vidkv.kernel.PrefillAttention;
import io.vidkv.testing.KvData;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link CapacityPolicy.OnFull#EVICT_OLDEST}: a sequence streamed far past its capacity keeps the
 * newest tokens within budget in bounded pages, holds exactly the blocks an unbounded cache holds
 * for those positions, and attends them like "dequantize the retained tokens, then float64
 * attention" (tolerance as in DecodeAttentionTest: 2e-4 x max |v| + 2e-4 x |ref|). Rejections keep
 * the cache unchanged.
 */
class EvictionTest {

    private static MemorySegment slice(MemorySegment seg, int fromToken, int tokens, ModelShape shape) {
        long per = (long) shape.tokenElements() * 4;
        return seg.asSlice(fromToken * per, tokens * per);
    }

    @ParameterizedTest(name = "{0} d={1} kvHeads={2} max={3} page={4} chunk={5}")
    @CsvSource({"vidkv-1.5/1.58, 64, 2, 1024, 8192, 1", "vidkv-1.5/1.58, 128, 1, 700, 16384, 37",
            "kivi-2, 64, 2, 900, 4096, 64", "fp16, 64, 3, 512, 8192, 5", "vidkv-1.5/1.58-compact, 128, 2, 1500, 8192, 200",
            "vidkv-1.5/1.66-stp, 64, 2, 800, 8192, 11"})
    void streamingPastCapacityKeepsTheNewestTokensAndAttendsThem(String preset, int d, int kvHeads, int max, int pageBytes,
                                                                 int chunk) {
        ModelShape shape = new ModelShape(1, 2 * kvHeads, kvHeads, d);
        SplittableRandom rnd = TestSeeds.random(d, kvHeads, max, pageBytes, chunk, preset.hashCode());
        int total = 3 * max + rnd.nextInt(max);
        CacheConfig base = CacheConfig.of(shape, Preset.byId(preset)).withPageBytes(pageBytes);
        try (Arena arena = Arena.ofConfined();
             KvCache bounded = KvCache.create(shape, base.withCapacity(CapacityPolicy.evictOldest(max)));
             KvCache unbounded = KvCache.create(shape, base.withCapacity(total));
             DecodeAttention attn = new DecodeAttention(bounded, null)) {
            if (preset.contains("stp")) { // protection applies to positions below maxTokens
                for (int t = 0; t < max; t += 3) {
                    bounded.protect(t);
                    unbounded.protect(t);
                }
            }
            MemorySegment k = KvData.keys(arena, rnd, total, kvHeads, d);
            MemorySegment v = KvData.values(arena, rnd, total, kvHeads, d);
            int lastFirst = 0;
            int maxPages = 0;
            for (int t = 0; t < total; t += chunk) {
                int n = Math.min(chunk, total - t);
                bounded.append(0, slice(k, t, n, shape), slice(v, t, n, shape), n, InputType.F32);
                unbounded.append(0, slice(k, t, n, shape), slice(v, t, n, shape), n, InputType.F32);
                assertEquals(t + n, bounded.tokenCount(0), "positions keep counting");
                assertTrue(bounded.retainedTokenCount(0) <= max, "retained " + bounded.retainedTokenCount(0) + " > " + max);
                assertTrue(bounded.firstRetainedToken(0) >= lastFirst, "eviction only moves forward");
                assertEquals(0, bounded.firstRetainedToken(0) % bounded.layerConfig(0).groupSize(), "whole blocks evicted");
                lastFirst = bounded.firstRetainedToken(0);
                maxPages = Math.max(maxPages, bounded.pagePool().pagesInUse());
            }
            int first = bounded.firstRetainedToken(0);
            assertTrue(first > 0, "streaming " + total + " tokens past " + max + " evicted nothing");
            // bounded pages: the budget's blocks plus one partly filled page at each end, per head
            long blockBytes = bounded.keyCodec(0).blockBytes() + bounded.valueCodec(0).blockBytes(bounded.layerConfig(0).groupSize());
            int perPage = (int) (pageBytes / blockBytes);
            int bound = kvHeads * ((max / bounded.layerConfig(0).groupSize() + perPage - 1) / perPage + 2);
            assertTrue(maxPages <= bound, "held up to " + maxPages + " pages, bound " + bound);
            assertEquals(bounded.stream(0, 0).firstPosition(), first);

            // what is retained is exactly what an unbounded cache holds at those positions
            for (int h = 0; h < kvHeads; h++) {
                double[][][] got = KvData.dequantize(bounded, 0, h);
                double[][][] all = KvData.dequantize(unbounded, 0, h);
                assertEquals(total - first, got[0].length);
                for (int i = 0; i < got[0].length; i++) {
                    assertArrayEquals(all[0][first + i], got[0][i], 0.0, "key row of position " + (first + i));
                    assertArrayEquals(all[1][first + i], got[1][i], 0.0, "value row of position " + (first + i));
                }
            }

            // decode attention sees exactly the retained tokens (and a causal mask inside them)
            MemorySegment q = KvData.queries(arena, rnd, shape, 0.5);
            MemorySegment out = arena.allocate((long) shape.queryHeads() * d * 4);
            int[] lastVisibles = {Integer.MAX_VALUE, first + rnd.nextInt(total - first)};
            for (int lastVisible : lastVisibles) {
                attn.attend(0, q, out, lastVisible);
                KvData.assertAttention(bounded, 0, q, out, lastVisible, 2e-4, preset + " decode");
            }
            assertThrows(IllegalStateException.class, () -> attn.attend(0, q, out, first - 1),
                    "a query that sees only evicted tokens");
            assertEquals(bounded.quantizedTokenCount(0) - first, bounded.memoryReport().layers().get(0).quantizedTokens(),
                    "the memory report counts retained tokens only");
        }
    }

    @Test
    void prefillAttentionStartsAtTheFirstRetainedToken() {
        int d = 64, kvHeads = 2, gq = 3, max = 1000;
        ModelShape shape = new ModelShape(1, gq * kvHeads, kvHeads, d);
        SplittableRandom rnd = TestSeeds.random(61);
        int total = 2500 + rnd.nextInt(500);
        try (Arena arena = Arena.ofConfined();
             KvCache cache = KvCache.create(shape, CacheConfig.of(shape, Preset.VIDKV_15_158).withPageBytes(8192)
                     .withCapacity(CapacityPolicy.evictOldest(max)));
             DecodeAttention decode = new DecodeAttention(cache, null);
             PrefillAttention prefill = new PrefillAttention(cache, 64, 256)) {
            MemorySegment k = KvData.keys(arena, rnd, total, kvHeads, d);
            MemorySegment v = KvData.values(arena, rnd, total, kvHeads, d);
            for (int t = 0; t < total; t += 100) {
                int n = Math.min(100, total - t);
                cache.append(0, slice(k, t, n, shape), slice(v, t, n, shape), n, InputType.F32);
            }
            int first = cache.firstRetainedToken(0);
            assertTrue(first > 0);
            int n = 13, from = total - n;
            int qh = shape.queryHeads();
            MemorySegment queries = KvData.queries(arena, rnd, n, shape, 0.4);
            MemorySegment out = arena.allocate((long) n * qh * d * 4);
            prefill.attend(0, queries, out, n, from);
            MemorySegment one = arena.allocate((long) qh * d * 4);
            for (int i = 0; i < n; i++) {
                MemorySegment qi = queries.asSlice((long) i * qh * d * 4, (long) qh * d * 4);
                decode.attend(0, qi, one, from + i);
                KvData.assertAttention(cache, 0, qi, one, from + i, 2e-4, "decode query " + i);
                // prefill: oneDNN float32 tiles and another softmax order (tolerance of PrefillAttentionTest)
                KvData.assertAttention(cache, 0, qi, out.asSlice((long) i * qh * d * 4, (long) qh * d * 4), from + i, 3e-4,
                        "prefill query " + i);
            }
            assertThrows(IllegalStateException.class, () -> prefill.attend(0, queries, out, n, first - 1));
        }
    }

    @Test
    void anAppendLargerThanTheBudgetIsRejectedUnchanged() {
        ModelShape shape = new ModelShape(1, 2, 2, 64);
        SplittableRandom rnd = TestSeeds.random(62);
        try (Arena arena = Arena.ofConfined();
             KvCache cache = KvCache.create(shape, CacheConfig.of(shape, Preset.VIDKV_15_158).withPageBytes(8192)
                     .withCapacity(CapacityPolicy.evictOldest(512)))) {
            MemorySegment k = KvData.keys(arena, rnd, 1200, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, 1200, 2, 64);
            cache.append(0, k, v, 500, InputType.F32);
            byte[] before = KvCacheTest.snapshot(cache);
            CapacityExceededException e = assertThrows(CapacityExceededException.class,
                    () -> cache.append(0, k, v, 600, InputType.F32));
            assertTrue(e.getMessage().contains("split it"), e.getMessage());
            assertArrayEquals(before, KvCacheTest.snapshot(cache));
            cache.append(0, slice(k, 500, 300, shape), slice(v, 500, 300, shape), 300, InputType.F32);
            assertEquals(800, cache.tokenCount(0));
            assertTrue(cache.retainedTokenCount(0) <= 512);
        }
    }

    @Test
    void anExhaustedSharedPoolMakesAnEvictingSequenceReuseItsOwnOldestPages() {
        ModelShape shape = new ModelShape(1, 2, 2, 64);
        SplittableRandom rnd = TestSeeds.random(63);
        CacheConfig reject = CacheConfig.of(shape, Preset.VIDKV_15_158).withPageBytes(4096).withCapacity(100_000);
        CacheConfig evict = reject.withCapacity(CapacityPolicy.evictOldest(100_000));
        try (Arena arena = Arena.ofConfined(); PagePool pool = new PagePool(4096, 24)) {
            MemorySegment k = KvData.keys(arena, rnd, 4000, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, 4000, 2, 64);
            try (KvCache other = KvCache.create(shape, reject, pool, null);
                 KvCache streaming = KvCache.create(shape, evict, pool, null);
                 KvCache strict = KvCache.create(shape, reject, pool, null)) {
                other.append(0, k, v, 600, InputType.F32); // holds some of the 24 pages
                int otherPages = pool.pagesInUse();
                for (int t = 0; t < 4000; t += 50) {
                    streaming.append(0, slice(k, t, 50, shape), slice(v, t, 50, shape), 50, InputType.F32);
                }
                assertEquals(4000, streaming.tokenCount(0));
                assertTrue(streaming.firstRetainedToken(0) > 0, "the pool ran out, so the streaming sequence evicted");
                assertTrue(pool.pagesInUse() <= 24);
                assertEquals(600, other.tokenCount(0), "the other sequence is untouched");
                assertTrue(otherPages > 0);
                byte[] before = KvCacheTest.snapshot(strict);
                assertThrows(CapacityExceededException.class, () -> strict.append(0, k, v, 1000, InputType.F32),
                        "a rejecting sequence fails when the pool is exhausted");
                assertArrayEquals(before, KvCacheTest.snapshot(strict));
            }
            assertEquals(0, pool.pagesInUse(), "every page returned");
        }
    }

    @Tag("allocation")
    @Test
    void steadyStateEvictingAppendAndDecodeAllocateNothing() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        io.vidkv.testing.EncoderWarmup.run(); // the encoders C2-compiled, as after a server's prefills
        ModelShape shape = new ModelShape(1, 8, 2, 128);
        SplittableRandom rnd = TestSeeds.random(64);
        CacheConfig config = CacheConfig.of(shape, Preset.VIDKV_15_158).withPageBytes(16384)
                .withCapacity(CapacityPolicy.evictOldest(1024));
        try (Arena arena = Arena.ofConfined(); KvCache cache = KvCache.create(shape, config);
             DecodeAttention attn = new DecodeAttention(cache, null)) {
            int tokens = 2048;
            MemorySegment k = KvData.keys(arena, rnd, tokens, 2, 128);
            MemorySegment v = KvData.values(arena, rnd, tokens, 2, 128);
            MemorySegment[] kt = new MemorySegment[tokens];
            MemorySegment[] vt = new MemorySegment[tokens];
            for (int t = 0; t < tokens; t++) {
                kt[t] = slice(k, t, 1, shape);
                vt[t] = slice(v, t, 1, shape);
            }
            MemorySegment q = KvData.queries(arena, rnd, shape, 0.3);
            MemorySegment out = arena.allocate(8L * 128 * 4);
            long[] windows = new long[8];
            int w = -1;
            int evictionsSeen = 0;
            for (int round = 0; round < 12 && w < 0; round++) { // the same tokens again and again: positions keep growing
                int firstBefore = cache.firstRetainedToken(0);
                long before = mx.getCurrentThreadAllocatedBytes();
                for (int t = 0; t < tokens; t++) {
                    cache.append(0, kt[t], vt[t], 1, InputType.F32);
                    attn.attend(0, q, out);
                }
                long bytes = mx.getCurrentThreadAllocatedBytes() - before;
                if (cache.firstRetainedToken(0) > firstBefore) {
                    evictionsSeen++;
                }
                if (round >= 4) { // after warm-up (C2 compiled the Vector API paths)
                    windows[round - 4] = bytes;
                    if (bytes == 0 && cache.firstRetainedToken(0) > firstBefore) {
                        w = round;
                    }
                }
            }
            assertTrue(evictionsSeen > 0);
            // on failure, which calls allocate: another round, call by call
            String sites = w >= 0 ? "" : io.vidkv.testing.HeapWindows.byCall(cache, attn, k, v, 0, tokens, q, out);
            assertTrue(w >= 0, "no allocation-free round of 2,048 evicting appends and decode steps; bytes per round "
                    + Arrays.toString(windows) + "; " + sites);
        }
    }

    @Test
    void evictionsAreRecordedAsPageEvents(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        ModelShape shape = new ModelShape(1, 2, 2, 64);
        SplittableRandom rnd = TestSeeds.random(65);
        java.nio.file.Path file = dir.resolve("evict.jfr");
        int evictions = 0;
        try (Arena arena = Arena.ofConfined();
             KvCache cache = KvCache.create(shape, CacheConfig.of(shape, Preset.VIDKV_15_158).withPageBytes(4096)
                     .withCapacity(CapacityPolicy.evictOldest(600)));
             jdk.jfr.Recording rec = new jdk.jfr.Recording()) {
            rec.enable("io.vidkv.Page");
            rec.start();
            MemorySegment k = KvData.keys(arena, rnd, 3000, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, 3000, 2, 64);
            int first = 0;
            for (int t = 0; t < 3000; t += 100) {
                cache.append(0, slice(k, t, 100, shape), slice(v, t, 100, shape), 100, InputType.F32);
                if (cache.firstRetainedToken(0) > first) {
                    evictions++;
                    first = cache.firstRetainedToken(0);
                }
            }
            rec.stop();
            rec.dump(file);
        }
        long recorded = jdk.jfr.consumer.RecordingFile.readAllEvents(file).stream()
                .filter(e -> e.getEventType().getName().equals("io.vidkv.Page") && e.getString("action").equals("evicted"))
                .peek(e -> assertTrue(e.getInt("pages") >= 2 && e.getInt("pages") % 2 == 0, "whole pages in both KV heads"))
                .count();
        assertTrue(evictions > 0);
        assertEquals(evictions, recorded, "one event per evicting append");
    }
}
