package io.vidkv;

import io.vidkv.testing.AttentionBits;
import io.vidkv.testing.KvData;
import io.vidkv.testing.SnapshotBytes;
import io.vidkv.testing.TestConfigs;
import io.vidkv.testing.TestSeeds;
import static io.vidkv.testing.Tokens.append;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Snapshots: a sequence saved and opened back (mapped in place or loaded into the pool) attends bit
 * for bit as the original, continues exactly as the original does, can be forked, and gives every
 * page back; every kind of bad file is one {@link SnapshotFormatException} naming the file and the
 * section.
 */
class SnapshotTest {

    private static final ModelShape SHAPE = new ModelShape(2, 8, 2, 64);

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} {1} evict={2}")
    @CsvSource({"vidkv-1.5/1.58, MAPPED, false", "vidkv-1.5/1.58, LOADED, false", "vidkv-1.5/1.66-stp, MAPPED, false",
            "vidkv-1.5/1.66-stp, LOADED, false", "vidkv-1.5/1.58-compact, MAPPED, false", "kivi-2, LOADED, false",
            "fp16, MAPPED, false", "vidkv-1.5/1.58, MAPPED, true", "vidkv-1.5/1.66-stp, LOADED, true",
            "vidkv-reference-1.5/1.58, LOADED, false", "vidkv-2/1.58-lsq, MAPPED, false", "vidkv-2/1.58-lsq, LOADED, true"})
    void aRestoredSequenceAttendsAndContinuesBitForBitLikeTheOriginal(String spec, SnapshotMode mode, boolean evict)
            throws IOException {
        SplittableRandom rnd = TestSeeds.random(spec.hashCode(), mode.ordinal(), evict ? 1 : 0);
        CacheConfig config = CacheConfig.uniform(SHAPE, TestConfigs.layer(spec)).withPageBytes(8192)
                .withCapacity(evict ? CapacityPolicy.evictOldest(700) : new CapacityPolicy(4096));
        Path file = dir.resolve("seq.vkv");
        try (Arena arena = Arena.ofConfined(); PagePool pool = new PagePool(8192, 4000)) {
            int prefix = evict ? 2000 : 500 + rnd.nextInt(400);
            MemorySegment k = KvData.keys(arena, rnd, prefix + 300, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, prefix + 300, 2, 64);
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.3);
            MemorySegment out = arena.allocate(8L * 64 * 4);
            try (KvCache original = KvCache.create(SHAPE, config, pool, null)) {
                if (spec.contains("stp")) {
                    original.protect(1, 2, 33, 300, 450, 680);
                }
                boolean reference = spec.contains("reference");
                append(original, k, v, 0, prefix, reference ? prefix : 61);
                original.saveTo(file);
                int[][] want = AttentionBits.of(original, q, out);
                int inUse = pool.pagesInUse();
                try (KvCache restored = KvCache.openSnapshot(file, SHAPE, config, pool, null, mode)) {
                    assertEquals(mode == SnapshotMode.MAPPED ? inUse : 2 * inUse, pool.pagesInUse(),
                            "mapped: no pool page; loaded: one per saved page");
                    MemoryReport mr = restored.memoryReport(), or = original.memoryReport();
                    assertEquals(mode == SnapshotMode.MAPPED ? mr.pageBytes() : 0, mr.mappedPageBytes());
                    assertEquals(or.payloadBytes(), mr.payloadBytes());
                    assertEquals(or.metadataBytes(), mr.metadataBytes());
                    for (int l = 0; l < 2; l++) {
                        assertEquals(original.tokenCount(l), restored.tokenCount(l));
                        assertEquals(original.firstRetainedToken(l), restored.firstRetainedToken(l));
                    }
                    int[][] got = AttentionBits.of(restored, q, out);
                    for (int l = 0; l < 2; l++) {
                        assertArrayEquals(want[l], got[l], spec + " " + mode + " layer " + l + TestSeeds.replay());
                    }
                    // both continue with the same tokens: still the same bits
                    append(original, k, v, prefix, 300, reference ? 1 : 17);
                    append(restored, k, v, prefix, 300, reference ? 1 : 17);
                    want = AttentionBits.of(original, q, out);
                    got = AttentionBits.of(restored, q, out);
                    for (int l = 0; l < 2; l++) {
                        assertArrayEquals(want[l], got[l], spec + " " + mode + " after appends, layer " + l + TestSeeds.replay());
                    }
                    if (!reference) { // a restored sequence forks like any other
                        try (KvCache fork = restored.fork()) {
                            assertArrayEquals(got[1], AttentionBits.of(fork, q, out)[1]);
                        }
                    }
                }
            }
            assertEquals(0, pool.pagesInUse());
        }
    }

    @Test
    void aForkOfAMappedSequenceKeepsTheMappingAfterTheRestoredOneCloses() throws IOException {
        SplittableRandom rnd = TestSeeds.random(11);
        CacheConfig config = CacheConfig.of(SHAPE, Preset.byId("vidkv-1.5/1.58")).withPageBytes(8192).withCapacity(2048);
        Path file = dir.resolve("a.vkv");
        try (Arena arena = Arena.ofConfined(); PagePool pool = new PagePool(8192, 1000)) {
            MemorySegment k = KvData.keys(arena, rnd, 800, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, 800, 2, 64);
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.3);
            MemorySegment out = arena.allocate(8L * 64 * 4);
            int[][] want;
            try (KvCache original = KvCache.create(SHAPE, config, pool, null)) {
                append(original, k, v, 0, 800, 100);
                original.saveTo(file);
                want = AttentionBits.of(original, q, out);
            }
            KvCache restored = KvCache.openSnapshot(file, SHAPE, config, pool, null, SnapshotMode.MAPPED);
            KvCache fork = restored.fork();
            restored.close();
            assertEquals(0, pool.pagesInUse());
            assertArrayEquals(want[0], AttentionBits.of(fork, q, out)[0]);
            assertTrue(fork.memoryReport().mappedPageBytes() > 0);
            // the file replaced while mapped (vidkv writes a new file and renames it): the mapping keeps the old bytes
            try (KvCache other = KvCache.create(SHAPE, config, pool, null)) {
                append(other, v, k, 0, 500, 100);
                other.saveTo(file);
            }
            assertArrayEquals(want[1], AttentionBits.of(fork, q, out)[1]);
            fork.close();
            assertEquals(0, pool.pagesInUse());
        }
    }

    /**
     * A mapped file truncated by another program under the mapping: decode and prefill attention
     * over the missing pages fail with the JVM's InternalError for a fault in a mapped access (the
     * kernels read pages with scalar MemorySegment accesses, which the JVM turns into that error; a
     * Vector API load from a mapping would crash the JVM instead, so no kernel loads a vector from a
     * page), and the sequence still closes.
     */
    @Test
    void aFileTruncatedUnderItsMappingFailsReadsWithAnErrorNotACrash() throws IOException {
        SplittableRandom rnd = TestSeeds.random(14);
        CacheConfig config = CacheConfig.of(SHAPE, Preset.byId("vidkv-1.5/1.58")).withPageBytes(8192).withCapacity(4096);
        Path file = dir.resolve("t.vkv");
        try (Arena arena = Arena.ofConfined(); PagePool pool = new PagePool(8192, 1000)) {
            MemorySegment k = KvData.keys(arena, rnd, 3000, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, 3000, 2, 64);
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.3);
            MemorySegment out = arena.allocate(8L * 64 * 4);
            try (KvCache original = KvCache.create(SHAPE, config, pool, null)) {
                append(original, k, v, 0, 3000, 500);
                original.saveTo(file);
            }
            KvCache restored = KvCache.openSnapshot(file, SHAPE, config, pool, null, SnapshotMode.MAPPED);
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
                ch.truncate(4096);
            }
            try (io.vidkv.kernel.DecodeAttention attn = new io.vidkv.kernel.DecodeAttention(restored, null)) {
                assertThrows(InternalError.class, () -> attn.attend(0, q, out));
            }
            MemorySegment q4 = KvData.queries(arena, rnd, 4, SHAPE, 0.3);
            MemorySegment out4 = arena.allocate(4L * SHAPE.queryHeads() * 64 * 4);
            try (io.vidkv.kernel.PrefillAttention prefill = new io.vidkv.kernel.PrefillAttention(restored, 4, 512)) {
                assertThrows(InternalError.class, () -> prefill.attend(0, q4, out4, 4, 2996));
            }
            restored.close();
            assertEquals(0, pool.pagesInUse());
        }
    }

    /** A small snapshot (1 layer, d = 16) whose every byte a test can flip. */
    private byte[] smallSnapshot(Path file, CacheConfig config) throws IOException {
        ModelShape shape = new ModelShape(1, 2, 1, 16);
        SplittableRandom rnd = TestSeeds.random(12);
        try (Arena arena = Arena.ofConfined(); KvCache cache = KvCache.create(shape, config)) {
            MemorySegment k = KvData.keys(arena, rnd, 300, 1, 16);
            MemorySegment v = KvData.values(arena, rnd, 300, 1, 16);
            cache.protect(7, 200);
            cache.append(0, k, v, 300, InputType.F32);
            cache.saveTo(file);
        }
        return Files.readAllBytes(file);
    }

    /** The small snapshot written to {@code name}, with its configuration and shape, for tests that edit it. */
    private record Small(CacheConfig config, ModelShape shape, Path file, byte[] bytes) {
    }

    private Small small(String name) throws IOException {
        CacheConfig config = smallConfig();
        Path file = dir.resolve(name);
        return new Small(config, new ModelShape(1, 2, 1, 16), file, smallSnapshot(file, config));
    }

    private static CacheConfig smallConfig() {
        return CacheConfig.uniform(new ModelShape(1, 2, 1, 16), Preset.byId("vidkv-1.5/1.66-stp").layerConfig())
                .withPageBytes(4096).withCapacity(512);
    }

    private SnapshotFormatException rejected(Path file, byte[] bytes, ModelShape shape, CacheConfig config, SnapshotMode mode)
            throws IOException {
        Files.write(file, bytes);
        SnapshotFormatException e = assertThrows(SnapshotFormatException.class,
                () -> KvCache.openSnapshot(file, shape, config, null, null, mode).close());
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        assertEquals(file, e.file());
        return e;
    }

    @Test
    void everySingleFlippedByteAndEveryTruncationIsRejectedNamingTheSection() throws IOException {
        CacheConfig config = smallConfig();
        ModelShape shape = new ModelShape(1, 2, 1, 16);
        Path good = dir.resolve("good.vkv");
        byte[] bytes = smallSnapshot(good, config);
        KvCache.openSnapshot(good, shape, config, null, null, SnapshotMode.MAPPED).close(); // the unmodified file opens
        Path bad = dir.resolve("bad.vkv");
        java.util.Set<String> sections = new java.util.TreeSet<>();
        for (int i = 0; i < bytes.length; i++) {
            byte[] b = bytes.clone();
            b[i] ^= (byte) (1 << (i % 8));
            sections.add(rejected(bad, b, shape, config, i % 2 == 0 ? SnapshotMode.MAPPED : SnapshotMode.LOADED).section());
        }
        assertEquals(java.util.Set.of("header", "table", "SHAP", "CONF", "PROT", "HEAD", "WIND", "PAGE"), sections,
                "flips in every section are caught there");
        for (int n = 0; n < bytes.length; n += (n < 300 ? 1 : 97)) {
            SnapshotFormatException e = rejected(bad, java.util.Arrays.copyOf(bytes, n), shape, config, SnapshotMode.MAPPED);
            assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        }
    }

    /** With a runner the pages are verified in parallel: the same file opens, a flip in any page is caught. */
    @Test
    void pagesVerifiedInParallelCatchAFlipInAnyPage() throws IOException {
        ModelShape shape = SHAPE;
        CacheConfig config = CacheConfig.of(SHAPE, Preset.byId("vidkv-1.5/1.58")).withPageBytes(4096).withCapacity(2048);
        Path file = dir.resolve("p.vkv");
        SplittableRandom rnd = TestSeeds.random(15);
        try (Arena arena = Arena.ofConfined(); KvCache cache = KvCache.create(SHAPE, config)) {
            append(cache, KvData.keys(arena, rnd, 900, 2, 64), KvData.values(arena, rnd, 900, 2, 64), 0, 900, 300);
            cache.saveTo(file);
        }
        byte[] bytes = Files.readAllBytes(file);
        long pages = SnapshotBytes.sectionOffset(bytes, 5), length = SnapshotBytes.sectionLength(bytes, 5);
        assertTrue(length >= 16 * 4096, "several pages per head: " + length);
        try (ParallelRunner runner = new ParallelRunner(2)) {
            KvCache.openSnapshot(file, shape, config, null, runner, SnapshotMode.MAPPED).close();
            for (long p = pages; p < pages + length; p += 4096) {
                byte[] b = bytes.clone();
                b[(int) (p + 4095 - (p / 4096) % 7)] ^= 0x10;
                Files.write(file, b);
                SnapshotFormatException e = assertThrows(SnapshotFormatException.class,
                        () -> KvCache.openSnapshot(file, shape, config, null, runner, SnapshotMode.MAPPED).close());
                assertEquals("PAGE", e.section(), e.getMessage());
            }
        }
    }

    @Test
    void wrongMagicVersionShapeAndConfigAreNamed() throws IOException {
        CacheConfig config = smallConfig();
        ModelShape shape = new ModelShape(1, 2, 1, 16);
        Path file = dir.resolve("x.vkv");
        byte[] bytes = smallSnapshot(file, config);
        byte[] b = bytes.clone();
        b[0] = 'X';
        SnapshotFormatException e = rejected(file, b, shape, config, SnapshotMode.MAPPED);
        assertEquals("header", e.section());
        assertTrue(e.getMessage().contains("magic"), e.getMessage());
        b = bytes.clone();
        SnapshotBytes.le(b).putInt(8, 3);
        SnapshotBytes.fixChecksums(b);
        e = rejected(file, b, shape, config, SnapshotMode.MAPPED);
        assertTrue(e.getMessage().contains("format version 3, this reader reads versions 1 to 2"), e.getMessage());
        e = rejected(file, bytes, new ModelShape(1, 4, 1, 16), config, SnapshotMode.MAPPED);
        assertEquals("SHAP", e.section());
        assertTrue(e.getMessage().contains("queryHeads=4"), e.getMessage());
        CacheConfig other = CacheConfig.uniform(shape, Preset.byId("vidkv-1.5/1.58").layerConfig()).withPageBytes(4096)
                .withCapacity(512);
        e = rejected(file, bytes, shape, other, SnapshotMode.LOADED);
        assertEquals("CONF", e.section());
        assertTrue(e.getMessage().contains("layer 0"), e.getMessage());
        e = rejected(file, bytes, shape, config.withPageBytes(8192), SnapshotMode.LOADED);
        assertEquals("SHAP", e.section());
        e = rejected(file, bytes, shape, config.withCapacity(100), SnapshotMode.LOADED);
        assertEquals("PROT", e.section(), e.getMessage()); // token 200 is protected, the capacity 100
        e = rejected(file, bytes, shape, config.withCapacity(250), SnapshotMode.LOADED);
        assertTrue(e.getMessage().contains("capacity is 250"), e.getMessage());
    }

    /** Sizes far beyond the file, with correct checksums: rejected, nothing of that size allocated. */
    /**
     * A window value that is not finite (or beyond FP16 range, where the layer stores FP16) is
     * rejected naming the head, key or value, and the element, at every position near the window's
     * ends and the keys/values boundary and every 7th between (the check tests two floats a word:
     * both halves, keys and values); values at the limit pass.
     */
    @Test
    void everyNonFiniteWindowValueIsRejectedNamingTheElement() throws IOException {
        Small small = small("w.vkv");
        byte[] bytes = small.bytes();
        long wind = SnapshotBytes.sectionOffset(bytes, 4);
        int floats = (int) (SnapshotBytes.sectionLength(bytes, 4) / 4); // one head: its keys, then its values
        assertTrue(floats > 64, "the small snapshot has a window");
        float limit = small.config().layer(0).needsFp16Range() ? 65504f : Float.MAX_VALUE;
        float over = limit < Float.MAX_VALUE ? 65520f : Float.POSITIVE_INFINITY;
        float[] bad = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, over, -over};
        for (int e = 0; e < floats; e += e < 64 || e >= floats - 64 || Math.abs(e - floats / 2) < 32 ? 1 : 7) {
            byte[] b = bytes.clone();
            float x = bad[e % bad.length];
            SnapshotBytes.le(b).putFloat((int) (wind + 4L * e), x);
            SnapshotBytes.fixChecksums(b);
            SnapshotFormatException ex = rejected(small.file(), b, small.shape(), small.config(), e % 2 == 0 ? SnapshotMode.MAPPED : SnapshotMode.LOADED);
            assertEquals("WIND", ex.section());
            String want = (e < floats / 2 ? "key" : "value") + " element " + e % (floats / 2) + " is " + x;
            assertTrue(ex.getMessage().contains(want), "want \"" + want + "\" in: " + ex.getMessage());
        }
        for (float ok : new float[]{limit, -limit, -0.0f, Float.MIN_VALUE}) {
            byte[] b = bytes.clone();
            SnapshotBytes.le(b).putFloat((int) wind, ok).putFloat((int) (wind + 4L * (floats - 1)), ok);
            SnapshotBytes.fixChecksums(b);
            Files.write(small.file(), b);
            try (KvCache c = KvCache.openSnapshot(small.file(), small.shape(), small.config(), null, null, SnapshotMode.MAPPED)) {
                assertEquals(Float.floatToRawIntBits(ok), Float.floatToRawIntBits(c.dequantize(0, 0).value(
                        c.dequantize(0, 0).tokens() - 1, 15)), "the last window value reads back as written");
            }
        }
    }

    @Test
    void hugeDeclaredSizesAreRejectedBeforeAllocation() throws IOException {
        Small small = small("h.vkv");
        CacheConfig config = small.config();
        ModelShape shape = small.shape();
        Path file = small.file();
        byte[] bytes = small.bytes();
        long head = SnapshotBytes.sectionOffset(bytes, 3);
        long headRecord = head + 16;
        int[][] edits = { // {offset, value}: u32 fields set to huge values
                {(int) headRecord + 4, Integer.MAX_VALUE}, // pages of head 0
                {(int) headRecord + 4, -1},
                {(int) head, Integer.MAX_VALUE}, // tokens of layer 0
                {(int) headRecord, 1 << 30}, // window tokens
                {(int) SnapshotBytes.sectionOffset(bytes, 0), 1 << 30}, // layers
                {(int) SnapshotBytes.sectionOffset(bytes, 0) + 12, 4096}, // head dim
                {(int) SnapshotBytes.sectionOffset(bytes, 0) + 20, Integer.MAX_VALUE}, // saved capacity
                {(int) SnapshotBytes.sectionOffset(bytes, 2), Integer.MAX_VALUE}, // protected words
        };
        for (int[] edit : edits) {
            byte[] b = bytes.clone();
            SnapshotBytes.le(b).putInt(edit[0], edit[1]);
            SnapshotBytes.fixChecksums(b);
            rejected(file, b, shape, config, SnapshotMode.LOADED);
            Files.write(file, b);
            assertThrows(SnapshotFormatException.class, () -> SnapshotInfo.inspect(file));
        }
        byte[] b = bytes.clone();
        SnapshotBytes.le(b).putLong(16, Long.MAX_VALUE); // the declared file length
        SnapshotBytes.fixChecksums(b);
        assertTrue(rejected(file, b, shape, config, SnapshotMode.MAPPED).getMessage().contains("truncated"));
        b = bytes.clone();
        SnapshotBytes.le(b).putLong(32 + 24 * 5 + 16, Long.MAX_VALUE / 2); // PAGE length
        SnapshotBytes.fixChecksums(b);
        assertEquals("PAGE", rejected(file, b, shape, config, SnapshotMode.MAPPED).section());
    }

    /**
     * Version 2 changed only the blocks of b-bit token scales: a version-1 file without them still
     * restores, one with them is refused naming the layer.
     */
    @Test
    void versionOneFilesRestoreUnlessTheyHoldTokenScaleCodes() throws IOException {
        CacheConfig config = smallConfig();
        ModelShape shape = new ModelShape(1, 2, 1, 16);
        Path file = dir.resolve("v1.vkv");
        byte[] b = smallSnapshot(file, config);
        SnapshotBytes.le(b).putInt(8, 1);
        SnapshotBytes.fixChecksums(b);
        Files.write(file, b);
        try (KvCache restored = KvCache.openSnapshot(file, shape, config, null, null, SnapshotMode.LOADED)) {
            assertEquals(300, restored.tokenCount(0));
        }
        CacheConfig lsq = CacheConfig.uniform(shape, Preset.VIDKV_2_158_LSQ.layerConfig()).withPageBytes(4096).withCapacity(512);
        SplittableRandom rnd = TestSeeds.random(13);
        try (Arena arena = Arena.ofConfined(); KvCache cache = KvCache.create(shape, lsq)) {
            cache.append(0, KvData.keys(arena, rnd, 300, 1, 16), KvData.values(arena, rnd, 300, 1, 16), 300, InputType.F32);
            cache.saveTo(file);
        }
        b = Files.readAllBytes(file);
        SnapshotBytes.le(b).putInt(8, 1);
        SnapshotBytes.fixChecksums(b);
        SnapshotFormatException e = rejected(file, b, shape, lsq, SnapshotMode.LOADED);
        assertEquals("CONF", e.section());
        assertTrue(e.getMessage().contains("layer 0: 3-bit token scales in a version-1 file"), e.getMessage());
    }

    @Test
    void inspectDescribesTheFile() throws IOException {
        CacheConfig config = smallConfig();
        Path file = dir.resolve("i.vkv");
        byte[] bytes = smallSnapshot(file, config);
        SnapshotInfo info = SnapshotInfo.inspect(file);
        assertEquals(2, info.version());
        assertEquals(bytes.length, info.fileBytes());
        assertEquals(new ModelShape(1, 2, 1, 16), info.shape());
        assertEquals(config, info.config());
        assertEquals(300, info.layers().get(0).tokens());
        assertEquals(6, info.sections().size());
        assertEquals(0, info.sections().get(5).offset() % 4096);
        assertTrue(info.pages() >= 1);
    }

    @Test
    void mappedReferenceModeAndAClosedPoolAreRefused() throws IOException {
        CacheConfig config = CacheConfig.uniform(SHAPE, TestConfigs.layer("vidkv-reference-1.5/1.58")).withPageBytes(8192)
                .withCapacity(1024);
        Path file = dir.resolve("r.vkv");
        SplittableRandom rnd = TestSeeds.random(13);
        try (Arena arena = Arena.ofConfined(); KvCache cache = KvCache.create(SHAPE, config)) {
            append(cache, KvData.keys(arena, rnd, 300, 2, 64), KvData.values(arena, rnd, 300, 2, 64), 0, 300, 300);
            cache.saveTo(file);
        }
        assertThrows(IllegalStateException.class, () -> KvCache.openSnapshot(file, SHAPE, config, null, null, SnapshotMode.MAPPED));
        PagePool closed = new PagePool(8192, 10);
        closed.close();
        assertThrows(IllegalStateException.class, () -> KvCache.openSnapshot(file, SHAPE, config, closed, null, SnapshotMode.LOADED));
        assertThrows(java.nio.file.NoSuchFileException.class,
                () -> KvCache.openSnapshot(dir.resolve("missing"), SHAPE, config, null, null, SnapshotMode.LOADED));
        try (Stream<Path> left = Files.list(dir)) {
            assertEquals(1, left.count(), "no temporary file is left behind");
        }
    }
}
