package io.vidkv;

import io.vidkv.kernel.DecodeAttention;
import io.vidkv.testing.KvData;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KvCacheTest {

    private static final ModelShape SMALL = new ModelShape(2, 4, 2, 64);

    /** Every byte a layer holds: blocks, window contents, counts. */
    public static byte[] snapshot(KvCache cache) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        ModelShape shape = cache.shape();
        for (int l = 0; l < shape.layers(); l++) {
            writeInt(out, cache.tokenCount(l));
            writeInt(out, cache.quantizedTokenCount(l));
            writeInt(out, cache.firstRetainedToken(l));
            long block = cache.keyCodec(l).blockBytes();
            for (int h = 0; h < shape.kvHeads(); h++) {
                HeadStore hs = cache.stream(l, h);
                for (int b = 0; b < hs.blockCount(); b++) {
                    long end = b + 1 < hs.blockCount() && hs.page(b + 1) == hs.page(b) ? hs.offset(b + 1)
                            : hs.offset(b) + block + cache.valueCodec(l).blockBytes(
                            Long.bitCount(cache.protectedMask(hs.firstPosition() + b * cache.layerConfig(l).groupSize(),
                                    cache.layerConfig(l).groupSize())));
                    out.writeBytes(hs.page(b).asSlice(hs.offset(b), end - hs.offset(b)).toArray(ValueLayout.JAVA_BYTE));
                }
                for (int j = 0; j < hs.windowCount(); j++) {
                    long base = (long) hs.windowSlot(j) * shape.headDim() * 4;
                    out.writeBytes(hs.windowKeys(j).asSlice(base, shape.headDim() * 4L).toArray(ValueLayout.JAVA_BYTE));
                    out.writeBytes(hs.windowValues(j).asSlice(base, shape.headDim() * 4L).toArray(ValueLayout.JAVA_BYTE));
                }
                for (int o : hs.state().keyOrder) {
                    writeInt(out, o);
                }
                writeInt(out, hs.state().calibrated() ? 1 : -1);
                for (float f : hs.state().keySuper) {
                    writeInt(out, Float.floatToRawIntBits(f));
                }
                for (float f : hs.state().valueSuper) {
                    writeInt(out, Float.floatToRawIntBits(f));
                }
            }
        }
        return out.toByteArray();
    }

    private static void writeInt(java.io.ByteArrayOutputStream out, int v) {
        out.writeBytes(ByteBuffer.allocate(4).putInt(v).array());
    }

    private static MemorySegment slice(MemorySegment seg, int fromToken, int tokens, ModelShape shape) {
        long per = (long) shape.tokenElements() * 4;
        return seg.asSlice(fromToken * per, tokens * per);
    }

    @ParameterizedTest(name = "{0} tokens={1}")
    @CsvSource({"vidkv-1.5/1.58, 0", "vidkv-1.5/1.58, 1", "vidkv-1.5/1.58, 31", "vidkv-1.5/1.58, 32", "vidkv-1.5/1.58, 128",
            "vidkv-1.5/1.58, 159", "vidkv-1.5/1.58, 255", "vidkv-1.5/1.58, 256", "vidkv-1.5/1.58, 288", "vidkv-1.5/1.58, 700",
            "vidkv-1.5/1.66-stp, 500", "vidkv-1.5/1.58-compact, 600", "kivi-2, 333", "fp16, 290", "vidkv-2, 420"})
    void bulkAndOneByOneAppendsGiveIdenticalBytes(String preset, int tokens) {
        CacheConfig config = CacheConfig.of(SMALL, Preset.byId(preset)).withCapacity(1024).withPageBytes(8192);
        SplittableRandom rnd = TestSeeds.random(tokens, preset.hashCode());
        try (Arena arena = Arena.ofShared();
             ParallelRunner runner = new ParallelRunner(2);
             KvCache bulk = KvCache.create(SMALL, config, runner);
             KvCache single = KvCache.create(SMALL, config)) {
            MemorySegment k = KvData.keys(arena, rnd, Math.max(tokens, 1), 2, 64);
            MemorySegment v = KvData.values(arena, rnd, Math.max(tokens, 1), 2, 64);
            if (preset.contains("stp")) {
                for (int t = 0; t < tokens; t += 3) {
                    bulk.protect(t);
                    single.protect(t);
                }
            }
            for (int l = 0; l < 2; l++) {
                bulk.append(l, k, v, tokens, InputType.F32);
                for (int t = 0; t < tokens; t++) {
                    single.append(l, slice(k, t, 1, SMALL), slice(v, t, 1, SMALL), 1, InputType.F32);
                }
            }
            assertEquals(tokens, bulk.tokenCount(1));
            assertArrayEquals(snapshot(bulk), snapshot(single));
            int g = config.layer(0).groupSize();
            int expectedWindow = tokens < config.layer(0).windowCapacity() ? tokens
                    : config.layer(0).residual() + (tokens - config.layer(0).residual()) % g;
            assertEquals(expectedWindow, bulk.stream(0, 0).windowCount(), "window tokens");
            assertEquals(tokens - expectedWindow, bulk.quantizedTokenCount(0));
        }
    }

    @Test
    void f16AndBf16InputsStoreTheSameAsF32OfTheSameValues() {
        CacheConfig config = CacheConfig.of(SMALL, Preset.VIDKV_15_158).withCapacity(1024);
        SplittableRandom rnd = TestSeeds.random(12);
        int n = 300;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment k32 = KvData.keys(arena, rnd, n, 2, 64);
            MemorySegment v32 = KvData.values(arena, rnd, n, 2, 64);
            long count = (long) n * SMALL.tokenElements();
            for (InputType type : new InputType[]{InputType.F16, InputType.BF16}) {
                MemorySegment k16 = arena.allocate(count * 2), v16 = arena.allocate(count * 2);
                for (long i = 0; i < count; i++) {
                    float kv = k32.getAtIndex(ValueLayout.JAVA_FLOAT, i), vv = v32.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                    short kh = type == InputType.F16 ? Float.floatToFloat16(kv) : (short) (Float.floatToRawIntBits(kv) >>> 16);
                    short vh = type == InputType.F16 ? Float.floatToFloat16(vv) : (short) (Float.floatToRawIntBits(vv) >>> 16);
                    k16.setAtIndex(ValueLayout.JAVA_SHORT, i, kh);
                    v16.setAtIndex(ValueLayout.JAVA_SHORT, i, vh);
                }
                MemorySegment kBack = arena.allocate(count * 4), vBack = arena.allocate(count * 4);
                for (long i = 0; i < count; i++) {
                    kBack.setAtIndex(ValueLayout.JAVA_FLOAT, i, type.get(k16, i));
                    vBack.setAtIndex(ValueLayout.JAVA_FLOAT, i, type.get(v16, i));
                }
                try (KvCache a = KvCache.create(SMALL, config); KvCache b = KvCache.create(SMALL, config)) {
                    a.append(0, k16, v16, n, type);
                    b.append(0, kBack, vBack, n, InputType.F32);
                    assertArrayEquals(snapshot(b), snapshot(a), type.toString());
                }
            }
        }
    }

    @Test
    void growthAcrossManyPagesNeverMovesEarlierBlocks() {
        CacheConfig config = CacheConfig.of(SMALL, Preset.VIDKV_15_158).withCapacity(8192).withPageBytes(4096);
        SplittableRandom rnd = TestSeeds.random(13);
        try (Arena arena = Arena.ofShared(); KvCache cache = KvCache.create(SMALL, config)) {
            MemorySegment k = KvData.keys(arena, rnd, 6000, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, 6000, 2, 64);
            cache.append(0, slice(k, 0, 1000, SMALL), slice(v, 0, 1000, SMALL), 1000, InputType.F32);
            HeadStore hs = cache.stream(0, 1);
            MemorySegment firstPage = hs.page(0);
            byte[] firstBlock = firstPage.asSlice(hs.offset(0), 100).toArray(ValueLayout.JAVA_BYTE);
            cache.append(0, slice(k, 1000, 5000, SMALL), slice(v, 1000, 5000, SMALL), 5000, InputType.F32);
            assertTrue(hs.page(hs.blockCount() - 1) != firstPage, "blocks must span many pages");
            assertEquals(firstPage, hs.page(0), "growth must not move the first page");
            assertArrayEquals(firstBlock, hs.page(0).asSlice(hs.offset(0), 100).toArray(ValueLayout.JAVA_BYTE));
            MemoryReport r = cache.memoryReport();
            assertTrue(r.pageBytes() >= 4096L * 20, "pages held: " + r.pageBytes());
        }
    }

    @Test
    void badInputIsRejectedPreciselyAndLeavesTheCacheUntouched() {
        CacheConfig config = CacheConfig.of(SMALL, Preset.VIDKV_15_166_STP).withCapacity(600);
        SplittableRandom rnd = TestSeeds.random(14);
        try (Arena arena = Arena.ofShared(); KvCache cache = KvCache.create(SMALL, config)) {
            MemorySegment k = KvData.keys(arena, rnd, 700, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, 700, 2, 64);
            cache.protect(1, 5, 9);
            cache.append(0, k, v, 400, InputType.F32);
            byte[] before = snapshot(cache);

            k.setAtIndex(ValueLayout.JAVA_FLOAT, 3L * SMALL.tokenElements() + 64 + 7, Float.NaN);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cache.append(0, k, v, 10, InputType.F32));
            assertTrue(e.getMessage().contains("layer 0, head 1, token 3") && e.getMessage().contains("channel 7")
                    && e.getMessage().contains("not finite"), e.getMessage());
            k.setAtIndex(ValueLayout.JAVA_FLOAT, 3L * SMALL.tokenElements() + 64 + 7, 1e6f);
            e = assertThrows(IllegalArgumentException.class, () -> cache.append(0, k, v, 10, InputType.F32));
            assertTrue(e.getMessage().contains("FP16 range"), e.getMessage());
            k.setAtIndex(ValueLayout.JAVA_FLOAT, 3L * SMALL.tokenElements() + 64 + 7, 1f);

            e = assertThrows(IllegalArgumentException.class,
                    () -> cache.append(0, k.asSlice(0, 4L * 128 * 5 - 4), v, 5, InputType.F32));
            assertTrue(e.getMessage().contains("keys segment has 2556 bytes, expected 2560 for [5 tokens, 2 KV heads, 64 dims]"),
                    e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> cache.append(2, k, v, 1, InputType.F32));
            assertTrue(e.getMessage().contains("layer 2 out of range [0, 2)"), e.getMessage());
            CapacityExceededException c = assertThrows(CapacityExceededException.class, () -> cache.append(0, k, v, 201, InputType.F32));
            assertTrue(c.getMessage().contains("exceeds the capacity of 600 tokens"), c.getMessage());
            IllegalStateException s = assertThrows(IllegalStateException.class, () -> cache.protect(2));
            assertTrue(s.getMessage().contains("token 2 is already quantized"), s.getMessage());
            assertThrows(IllegalArgumentException.class, () -> cache.protect(600));

            assertArrayEquals(before, snapshot(cache), "a rejected call must not change the cache");
            cache.append(0, k, v, 200, InputType.F32); // and it still works
            assertEquals(600, cache.tokenCount(0));
        }
    }

    @Test
    void useAfterCloseThrows() {
        KvCache cache = KvCache.create(SMALL, CacheConfig.of(SMALL, Preset.FP16).withCapacity(64));
        cache.close();
        cache.close();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocate(4L * 128);
            assertThrows(IllegalStateException.class, () -> cache.append(0, x, x, 1, InputType.F32));
            assertThrows(IllegalStateException.class, cache::memoryReport);
            assertThrows(IllegalStateException.class, () -> cache.stream(0, 0));
        }
    }

    @Test
    void poolPagesAreReusedAcrossConcurrentSequencesAndAllReturn() throws Exception {
        CacheConfig config = CacheConfig.of(SMALL, Preset.VIDKV_15_158).withCapacity(2048).withPageBytes(8192);
        try (PagePool pool = new PagePool(8192, 4000); Arena arena = Arena.ofShared()) {
            SplittableRandom rnd = TestSeeds.random(15);
            MemorySegment k = KvData.keys(arena, rnd, 1500, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, 1500, 2, 64);
            ExecutorService exec = Executors.newFixedThreadPool(4);
            try {
                List<Future<?>> fs = new ArrayList<>();
                for (int i = 0; i < 32; i++) {
                    int tokens = 300 + 36 * i;
                    fs.add(exec.submit(() -> {
                        try (KvCache cache = KvCache.create(SMALL, config, pool, null)) {
                            for (int l = 0; l < 2; l++) {
                                cache.append(l, k, v, tokens, InputType.F32);
                            }
                            assertTrue(pool.pagesInUse() > 0);
                        }
                        return null;
                    }));
                }
                for (Future<?> f : fs) {
                    f.get(120, TimeUnit.SECONDS);
                }
            } finally {
                exec.shutdownNow();
            }
            assertEquals(0, pool.pagesInUse(), "every page must return to the pool");
            assertTrue(pool.allocatedPages() < 32 * 100, "pages must be reused, allocated " + pool.allocatedPages());
        }
    }

    @Test
    void exhaustedPoolRejectsTheAppendWithNothingChanged() {
        CacheConfig config = CacheConfig.of(SMALL, Preset.FP16).withCapacity(4096).withPageBytes(16384);
        SplittableRandom rnd = TestSeeds.random(16);
        try (PagePool pool = new PagePool(16384, 6); Arena arena = Arena.ofShared();
             KvCache cache = KvCache.create(SMALL, config, pool, null)) {
            MemorySegment k = KvData.keys(arena, rnd, 2000, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, 2000, 2, 64);
            cache.append(0, k, v, 300, InputType.F32);
            byte[] before = snapshot(cache);
            int inUse = pool.pagesInUse();
            assertThrows(CapacityExceededException.class, () -> cache.append(0, k, v, 1500, InputType.F32));
            assertArrayEquals(before, snapshot(cache));
            assertEquals(inUse, pool.pagesInUse(), "reserved pages must be returned");
        }
    }

    @Test
    void memoryReportCountsEveryByteAndCompactPresetMeetsItsBudget() {
        ModelShape shape = new ModelShape(1, 28, 4, 128);
        SplittableRandom rnd = TestSeeds.random(17);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment k = KvData.keys(arena, rnd, 2176, 4, 128);
            MemorySegment v = KvData.values(arena, rnd, 2176, 4, 128);
            for (Preset p : Preset.values()) {
                try (KvCache cache = KvCache.create(shape, CacheConfig.of(shape, p).withCapacity(4096))) {
                    cache.append(0, k, v, 2176, InputType.F32);
                    MemoryReport r = cache.memoryReport();
                    int q = cache.quantizedTokenCount(0);
                    long blocks = (long) q / p.layerConfig().groupSize() * 4;
                    long blockBytes = 0;
                    for (int h = 0; h < 4; h++) {
                        HeadStore hs = cache.stream(0, h);
                        for (int b = 0; b < hs.blockCount(); b++) {
                            blockBytes += cache.keyCodec(0).blockBytes() + cache.valueCodec(0).blockBytes(0);
                        }
                    }
                    assertEquals(blocks, (long) cache.stream(0, 0).blockCount() * 4);
                    long headState = r.metadataBytes() + r.payloadBytes() - blockBytes;
                    assertTrue(headState >= 0 && headState <= 4L * (2 * 128 + 4 * 128), p.id() + " head state " + headState);
                    double elements = (double) q * 4 * 128 * 2;
                    assertEquals((r.payloadBytes() + r.metadataBytes()) * 8 / elements, r.effectiveBits(), 1e-9, p.id());
                    assertEquals(2176L * 4 * 128 * 2 * 2, r.fp16Bytes());
                    assertEquals((long) (2176 - q) * 4 * 128 * 2 * 4, r.residualBytes());
                    if (p == Preset.VIDKV_2_158_LSQ) { // its per-token value scales cost 8 / d bits: 1.96 at d = 128
                        assertTrue(r.effectiveBits() <= 2.0, "vidkv-2/1.58-lsq effective bits " + r.effectiveBits());
                    }
                    if (p == Preset.VIDKV_15_158_COMPACT) {
                        assertTrue(r.effectiveBits() <= 1.75, "compact effective bits " + r.effectiveBits());
                    }
                    if (p == Preset.FP16) {
                        assertEquals(16.0, r.effectiveBits(), 1e-9);
                    }
                }
            }
        }
    }

    @Test
    void referenceModeRequantizesOnEveryFlushAfterPrefill() {
        CacheConfig config = CacheConfig.of(SMALL, Preset.VIDKV_REFERENCE).withCapacity(1024);
        SplittableRandom rnd = TestSeeds.random(18);
        try (Arena arena = Arena.ofShared(); KvCache cache = KvCache.create(SMALL, config)) {
            MemorySegment k = KvData.keys(arena, rnd, 600, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, 600, 2, 64);
            cache.append(0, k, v, 400, InputType.F32);
            HeadStore hs = cache.stream(0, 0);
            byte[] firstBlock = hs.page(0).asSlice(hs.offset(0), cache.keyCodec(0).blockBytes()).toArray(ValueLayout.JAVA_BYTE);
            for (int t = 400; t < 560; t++) {
                cache.append(0, slice(k, t, 1, SMALL), slice(v, t, 1, SMALL), 1, InputType.F32);
            }
            byte[] after = hs.page(0).asSlice(hs.offset(0), cache.keyCodec(0).blockBytes()).toArray(ValueLayout.JAVA_BYTE);
            assertTrue(!Arrays.equals(firstBlock, after), "the reference mode re-quantizes old blocks at a flush");
        }
    }

    @Tag("allocation")
    @Test
    void steadyStateAppendAndDecodeAllocateNothing() {
        io.vidkv.testing.EncoderWarmup.run(); // the encoders C2-compiled, as after a server's prefills
        ModelShape shape = new ModelShape(2, 8, 2, 128);
        // the presets, and the least-squares options (their encoders sort and refit per group); "@2": the
        // cache appends on a 2-thread ParallelRunner (a decode step that quantizes a group runs its heads there)
        for (String run : new String[]{"vidkv-1.5/1.58", "fp16", "vidkv-1.5/1.66-stp", "kivi-2", "vidkv-2",
                "vidkv-1.5/1.58-compact", "kivi-2+fit", "vidkv-1.5/1.58-compact+lsternary", "vidkv-1.5/1.66-stp+lsternary",
                "vidkv-2/1.58-lsq", "vidkv-1.5/1.58@2", "vidkv-2/1.58-lsq@2"}) {
            String spec = run.replace("@2", "");
            SplittableRandom rnd = TestSeeds.random(19, run.hashCode());
            CacheConfig config = CacheConfig.uniform(shape, io.vidkv.testing.TestConfigs.layer(spec)).withCapacity(4096);
            try (Arena arena = Arena.ofShared(); PagePool pool = new PagePool(config.pageBytes(), 10_000);
                 ParallelRunner runner = run.endsWith("@2") ? new ParallelRunner(2) : null) {
                MemorySegment k = KvData.keys(arena, rnd, 3200, 2, 128);
                MemorySegment v = KvData.values(arena, rnd, 3200, 2, 128);
                // A server's pool is warm: pages come back from closed sequences. Taking a brand-new
                // page from native memory creates one MemorySegment object per page of growth.
                try (KvCache previous = KvCache.create(shape, config, pool, null)) {
                    for (int l = 0; l < 2; l++) {
                        previous.append(l, k, v, 3200, InputType.F32);
                    }
                }
                KvCache cache = KvCache.create(shape, config, pool, runner);
                DecodeAttention attn = new DecodeAttention(cache, null);
                MemorySegment q = KvData.queries(arena, rnd, shape, 0.3);
                MemorySegment out = arena.allocate(8L * 128 * 4);
                for (int l = 0; l < 2; l++) {
                    cache.append(l, k, v, 1000, InputType.F32);
                }
                java.util.function.IntConsumer step = io.vidkv.testing.Tokens.decodeSteps(cache, attn, k, v, 1000, 2200, q, out);
                for (int t = 0; t < 1000; t++) { // warm-up: C2 must have compiled the Vector API paths (interpreted they box)
                    step.accept(t);
                }
                // Steady state = a window of 200 decode steps (x 2 layers) with zero heap bytes; a late JIT
                // recompilation may still run a method interpreted once, so up to 6 windows are tried.
                long[] windows = io.vidkv.testing.HeapWindows.untilQuiet(step, 1000, 200, 6);
                // on failure, where it allocates: 800 steps more (the same tokens again, within capacity)
                String sites = io.vidkv.testing.HeapWindows.quiet(windows) ? "" : io.vidkv.testing.HeapWindows.byCall(cache, attn,
                        k, v, 1000, 800, q, out);
                attn.close();
                cache.close();
                assertTrue(io.vidkv.testing.HeapWindows.quiet(windows), run + ": no allocation-free window of 200 decode steps; bytes per window "
                        + Arrays.toString(windows) + "; " + sites);
            }
        }
    }

    @Test
    void realMiniLmActivationsRoundTripWithBoundedError() throws IOException {
        float[] keys = npy("minilm-kv/L0_key.npy");
        float[] values = npy("minilm-kv/L0_value.npy");
        // 512 tokens x 384 = 12 heads x 32; use the first 4 heads as 4 KV heads of d = 32.
        ModelShape shape = new ModelShape(1, 4, 4, 32);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment k = arena.allocate(512L * 128 * 4), v = arena.allocate(512L * 128 * 4);
            for (int t = 0; t < 512; t++) {
                for (int i = 0; i < 128; i++) {
                    k.setAtIndex(ValueLayout.JAVA_FLOAT, t * 128L + i, keys[t * 384 + i]);
                    v.setAtIndex(ValueLayout.JAVA_FLOAT, t * 128L + i, values[t * 384 + i]);
                }
            }
            double[] errs = new double[3];
            Preset[] ps = {Preset.VIDKV_2, Preset.VIDKV_15_158, Preset.FP16};
            for (int i = 0; i < ps.length; i++) {
                try (KvCache cache = KvCache.create(shape, CacheConfig.of(shape, ps[i]).withCapacity(1024))) {
                    cache.append(0, k, v, 512, InputType.F32);
                    double num = 0, den = 0;
                    for (int h = 0; h < 4; h++) {
                        double[][][] deq = KvData.dequantize(cache, 0, h);
                        for (int t = 0; t < 512; t++) {
                            for (int c = 0; c < 32; c++) {
                                double ref = keys[t * 384 + h * 32 + c];
                                num += Math.pow(deq[0][t][c] - ref, 2);
                                den += ref * ref;
                            }
                        }
                    }
                    errs[i] = Math.sqrt(num / den);
                }
            }
            assertTrue(errs[2] < 1e-3, "fp16 key error " + errs[2]);
            assertTrue(errs[0] < 0.25, "2-bit key error " + errs[0]);
            assertTrue(errs[1] < 0.6 && errs[1] > errs[0], "1.5-bit key error " + errs[1] + " vs 2-bit " + errs[0]);
        }
    }

    /** Minimal reader for the test resources (little-endian float32, C order). */
    static float[] npy(String resource) throws IOException {
        try (InputStream in = KvCacheTest.class.getClassLoader().getResourceAsStream(resource)) {
            byte[] all = in.readAllBytes();
            int headerLen = (all[8] & 0xFF) | (all[9] & 0xFF) << 8;
            String header = new String(all, 10, headerLen, StandardCharsets.ISO_8859_1);
            assertTrue(header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"), header);
            ByteBuffer bb = ByteBuffer.wrap(all, 10 + headerLen, all.length - 10 - headerLen).order(ByteOrder.LITTLE_ENDIAN);
            float[] out = new float[bb.remaining() / 4];
            bb.asFloatBuffer().get(out);
            return out;
        }
    }

    @Test
    void metadataFormatsAreSelectable() {
        assertEquals(MetadataFormat.COMPACT8, Preset.VIDKV_15_158_COMPACT.layerConfig().metadata());
        assertEquals(Preset.VIDKV_15_158, Preset.byId("vidkv-1.5/1.58"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Preset.byId("vidkv-1"));
        assertTrue(e.getMessage().contains("vidkv-1.5/1.58"), e.getMessage());
    }
}
