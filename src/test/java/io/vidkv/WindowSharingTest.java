package io.vidkv;

import io.vidkv.internal.HeadStream;
import io.vidkv.kernel.DecodeAttention;
import io.vidkv.testing.AttentionBits;
import io.vidkv.testing.KvData;
import io.vidkv.testing.TestConfigs;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static io.vidkv.testing.Tokens.append;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The residual window shared copy-on-write ({@link ResidualWindow}): a fork references its parent's
 * window chunks (no window byte copied), each side's new tokens go into chunks of its own, so no
 * side's appends change what another reads; every chunk comes back when the last sequence that
 * references it lets it go; a mapped restore reads its windows in place from the file.
 */
class WindowSharingTest {

    private static final ModelShape SHAPE = new ModelShape(2, 8, 2, 64);

    private static CacheConfig config(int capacity) {
        return CacheConfig.uniform(SHAPE, TestConfigs.layer("vidkv-1.5/1.58")).withPageBytes(8192).withCapacity(capacity);
    }

    /** The same tokens, blocks and window floats in every layer and head, and the same attention bits. */
    private static void assertSameContent(KvCache want, KvCache got, MemorySegment q, MemorySegment out, String what) {
        for (int l = 0; l < SHAPE.layers(); l++) {
            assertEquals(want.tokenCount(l), got.tokenCount(l), what);
            for (int h = 0; h < SHAPE.kvHeads(); h++) {
                DequantizedHead a = want.dequantize(l, h), b = got.dequantize(l, h);
                assertEquals(a.firstPosition(), b.firstPosition(), what);
                assertArrayEquals(a.keys(), b.keys(), what + " keys, layer " + l + " head " + h + TestSeeds.replay());
                assertArrayEquals(a.values(), b.values(), what + " values, layer " + l + " head " + h + TestSeeds.replay());
            }
        }
        int[][] a = AttentionBits.of(want, q, out), b = AttentionBits.of(got, q, out);
        for (int l = 0; l < SHAPE.layers(); l++) {
            assertArrayEquals(a[l], b[l], what + " attention, layer " + l + TestSeeds.replay());
        }
    }

    private static KvCache unshared(PagePool pool, CacheConfig config, MemorySegment k, MemorySegment v, int prefix,
                                    MemorySegment ok, MemorySegment ov, int own) {
        KvCache c = KvCache.create(SHAPE, config, pool, null);
        append(c, k, v, 0, prefix, 61);
        append(c, ok, ov, 0, own, 7);
        return c;
    }

    @Test
    void aForkReferencesItsParentsWindowAndCopiesNoWindowByte() {
        SplittableRandom rnd = TestSeeds.random(14, 1);
        try (Arena arena = Arena.ofConfined(); PagePool pool = new PagePool(8192, 4000);
             KvCache parent = KvCache.create(SHAPE, config(4096), pool, null)) {
            int prefix = 700 + rnd.nextInt(300);
            append(parent, KvData.keys(arena, rnd, prefix, 2, 64), KvData.values(arena, rnd, prefix, 2, 64), 0, prefix,
                    1 + rnd.nextInt(100));
            WindowChunks chunks = parent.windowChunks();
            int allocated = chunks.allocated(), inUse = chunks.inUse();
            MemoryReport alone = parent.memoryReport();
            assertTrue(alone.residualBytes() > 0);
            assertEquals(0, alone.sharedResidualBytes(), "nothing shared before the fork");
            try (KvCache child = parent.fork()) {
                assertEquals(allocated, chunks.allocated(), "a fork takes no window chunk" + TestSeeds.replay());
                assertEquals(inUse, chunks.inUse());
                for (int l = 0; l < SHAPE.layers(); l++) {
                    for (int h = 0; h < SHAPE.kvHeads(); h++) {
                        HeadStream a = parent.stream(l, h), b = child.stream(l, h);
                        assertEquals(a.windowCount(), b.windowCount());
                        for (int j = 0; j < a.windowCount(); j++) { // the very same bytes, not a copy
                            assertEquals(a.windowKeys(j).address(), b.windowKeys(j).address());
                            assertEquals(a.windowValues(j).address(), b.windowValues(j).address());
                            assertEquals(a.windowSlot(j), b.windowSlot(j));
                        }
                    }
                }
                MemoryReport pr = parent.memoryReport(), cr = child.memoryReport();
                assertEquals(pr.residualBytes(), cr.residualBytes());
                assertEquals(cr.residualBytes(), cr.sharedResidualBytes(), "every window token of the fork is shared");
                assertEquals(0, cr.privateResidualBytes());
                assertEquals(pr.residualBytes(), pr.sharedResidualBytes());
            }
            MemoryReport after = parent.memoryReport();
            assertEquals(0, after.sharedResidualBytes(), "closing the fork leaves the parent's window its own");
            assertEquals(alone.residualBytes(), after.residualBytes());
            assertEquals(inUse, chunks.inUse(), "closing the fork released its references");
        }
    }

    /**
     * Parent and two forks each append a few tokens (fewer than the window holds, so part of every
     * window stays shared; the parent goes on filling the chunk the forks read the start of): each
     * holds exactly what an unshared sequence fed its tokens holds; then, after more tokens than
     * the window holds, nothing is shared any more. Every chunk comes back after any close order.
     */
    @Test
    void appendsAfterAForkChangeNothingTheOthersRead() {
        SplittableRandom rnd = TestSeeds.random(14, 2);
        CacheConfig config = config(4096);
        int prefix = 600 + rnd.nextInt(200);
        try (Arena arena = Arena.ofConfined(); PagePool pool = new PagePool(8192, 4000)) {
            MemorySegment k = KvData.keys(arena, rnd, prefix, 2, 64), v = KvData.values(arena, rnd, prefix, 2, 64);
            int[] own = {1 + rnd.nextInt(20), 1 + rnd.nextInt(40), 30 + rnd.nextInt(50)};
            MemorySegment[] ok = new MemorySegment[3], ov = new MemorySegment[3];
            for (int i = 0; i < 3; i++) {
                ok[i] = KvData.keys(arena, rnd, 400, 2, 64);
                ov[i] = KvData.values(arena, rnd, 400, 2, 64);
            }
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.3);
            MemorySegment out = arena.allocate(8L * 64 * 4);
            KvCache parent = KvCache.create(SHAPE, config, pool, null);
            append(parent, k, v, 0, prefix, 61);
            KvCache[] seqs = {parent, parent.fork(), parent.fork()};
            WindowChunks chunks = parent.windowChunks();
            for (int i = 0; i < 3; i++) { // the parent first: it writes on into the chunk the forks share the start of
                append(seqs[i], ok[i], ov[i], 0, own[i], 7);
            }
            for (int i = 0; i < 3; i++) {
                try (KvCache want = unshared(pool, config, k, v, prefix, ok[i], ov[i], own[i])) {
                    assertSameContent(want, seqs[i], q, out, "sequence " + i + " after " + own[i] + " own tokens");
                }
                MemoryReport r = seqs[i].memoryReport();
                assertTrue(r.sharedResidualBytes() > 0 && r.privateResidualBytes() > 0,
                        "sequence " + i + ": part of its window shared, its own tokens private: " + r);
            }
            for (int i = 0; i < 3; i++) { // now past the window: every window token is a sequence's own
                append(seqs[i], ok[i], ov[i], own[i], 400 - own[i], 1 + 10 * i);
            }
            for (int i = 0; i < 3; i++) {
                try (KvCache want = unshared(pool, config, k, v, prefix, ok[i], ov[i], 400)) {
                    assertSameContent(want, seqs[i], q, out, "sequence " + i + " after 400 own tokens");
                }
                assertEquals(0, seqs[i].memoryReport().sharedResidualBytes());
            }
            seqs[1].close();
            seqs[0].close();
            assertTrue(chunks.inUse() > 0, "the open fork holds its window");
            seqs[2].close();
            assertEquals(0, chunks.inUse(), "every window chunk is back");
            assertEquals(0, pool.pagesInUse());
        }
    }

    /**
     * The parent closes right after forking: the fork's window still reads the chunks the parent
     * took (they stay until the fork lets them go), and decoding token by token reuses the pool's
     * chunks (no growth once the window turned over).
     */
    @Test
    void aForkOutlivesItsParentsWindowAndReusesChunks() {
        SplittableRandom rnd = TestSeeds.random(14, 3);
        CacheConfig config = config(4096);
        int prefix = 500 + rnd.nextInt(100), own = 900;
        try (Arena arena = Arena.ofConfined(); PagePool pool = new PagePool(8192, 4000)) {
            MemorySegment k = KvData.keys(arena, rnd, prefix, 2, 64), v = KvData.values(arena, rnd, prefix, 2, 64);
            MemorySegment ok = KvData.keys(arena, rnd, own, 2, 64), ov = KvData.values(arena, rnd, own, 2, 64);
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.3);
            MemorySegment out = arena.allocate(8L * 64 * 4);
            KvCache parent = KvCache.create(SHAPE, config, pool, null);
            append(parent, k, v, 0, prefix, 50);
            KvCache child = parent.fork();
            WindowChunks chunks = parent.windowChunks();
            parent.close();
            try (KvCache want = unshared(pool, config, k, v, prefix, ok, ov, 0)) {
                assertSameContent(want, child, q, out, "the fork after its parent closed");
            }
            append(child, ok, ov, 0, 400, 1);
            int grown = chunks.allocated();
            append(child, ok, ov, 400, own - 400, 1);
            assertEquals(grown, chunks.allocated(), "decoding token by token reuses freed chunks");
            try (KvCache want = unshared(pool, config, k, v, prefix, ok, ov, own)) {
                assertSameContent(want, child, q, out, "the fork after " + own + " own tokens");
            }
            child.close();
            assertEquals(0, chunks.inUse());
        }
    }

    /**
     * The pool keeps window chunks across sequences, like pages: a sequence created after another
     * closed reuses its chunks (no new native memory), the pool reports them in and out of use, and
     * closing the pool frees them; a sequence still open on a closed pool then fails on use with
     * IllegalStateException, and closing it still succeeds.
     */
    @Test
    void thePoolReusesWindowChunksAcrossSequences() {
        SplittableRandom rnd = TestSeeds.random(14, 6);
        CacheConfig config = config(4096);
        int tokens = 300 + rnd.nextInt(300);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment k = KvData.keys(arena, rnd, tokens, 2, 64), v = KvData.values(arena, rnd, tokens, 2, 64);
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.3);
            MemorySegment out = arena.allocate(8L * 64 * 4);
            PagePool pool = new PagePool(8192, 4000);
            int chunk = 1 + rnd.nextInt(40); // both sequences append alike, so their windows need the same chunks
            KvCache first = KvCache.create(SHAPE, config, pool, null);
            append(first, k, v, 0, tokens, chunk);
            long windowBytes = pool.windowBytes();
            WindowChunks chunks = first.windowChunks();
            assertTrue(windowBytes > 0, "the window's tokens are in the pool's chunks");
            assertEquals((long) chunks.allocated() * chunks.chunkBytes(), windowBytes);
            PoolReport open = pool.report();
            assertEquals(windowBytes, open.windowBytes());
            assertEquals((long) chunks.inUse() * chunks.chunkBytes(), open.windowBytesInUse());
            assertTrue(open.windowBytesInUse() > 0 && open.windowBytesInUse() <= windowBytes);
            first.close();
            assertEquals(0, pool.report().windowBytesInUse(), "a closed sequence returns its window chunks");
            assertEquals(windowBytes, pool.windowBytes(), "the pool keeps them for the next sequence");
            KvCache second = KvCache.create(SHAPE, config, pool, null);
            append(second, k, v, 0, tokens, chunk);
            assertEquals(windowBytes, pool.windowBytes(), "a second sequence of the same length reuses the chunks"
                    + TestSeeds.replay());
            try (KvCache want = KvCache.create(SHAPE, config, pool, null)) {
                append(want, k, v, 0, tokens, tokens);
                assertSameContent(want, second, q, out, "a sequence in reused chunks");
            }
            pool.close();
            assertThrows(IllegalStateException.class, () -> second.dequantize(0, 0), "reading a freed window");
            try (DecodeAttention attention = new DecodeAttention(second, null)) {
                assertThrows(IllegalStateException.class, () -> attention.attend(0, q, out), "attending freed chunks");
            }
            assertThrows(IllegalStateException.class, () -> append(second, k, v, 0, 1, 1), "appending on a closed pool");
            second.close();
            assertTrue(second.isClosed());
        }
    }

    /**
     * Under EVICT_OLDEST (which drops pages, never window tokens): one side appends past the capacity
     * and evicts while the other stands still; the other's blocks, window and attention stay as they
     * were, and the evicting side's window holds exactly its newest tokens. Then the other way round.
     */
    @Test
    void evictingForksKeepTheirWindowsApart() {
        SplittableRandom rnd = TestSeeds.random(14, 4);
        CacheConfig config = CacheConfig.uniform(SHAPE, TestConfigs.layer("vidkv-1.5/1.58")).withPageBytes(8192)
                .withCapacity(CapacityPolicy.evictOldest(700));
        int prefix = 650, own = 500;
        try (Arena arena = Arena.ofConfined(); PagePool pool = new PagePool(8192, 4000)) {
            MemorySegment k = KvData.keys(arena, rnd, prefix, 2, 64), v = KvData.values(arena, rnd, prefix, 2, 64);
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.3);
            MemorySegment out = arena.allocate(8L * 64 * 4);
            MemorySegment[] ok = {KvData.keys(arena, rnd, own, 2, 64), KvData.keys(arena, rnd, own, 2, 64)};
            MemorySegment[] ov = {KvData.values(arena, rnd, own, 2, 64), KvData.values(arena, rnd, own, 2, 64)};
            try (KvCache parent = KvCache.create(SHAPE, config, pool, null)) {
                append(parent, k, v, 0, prefix, 61);
                try (KvCache child = parent.fork()) {
                    KvCache[] seqs = {child, parent};
                    for (int i = 0; i < 2; i++) {
                        KvCache moving = seqs[i], still = seqs[1 - i];
                        DequantizedHead[] before = heads(still);
                        int[][] bits = AttentionBits.of(still, q, out);
                        append(moving, ok[i], ov[i], 0, own, 5 + 3 * i);
                        assertTrue(moving.firstRetainedToken(0) > 0, "sequence " + i + " evicted");
                        DequantizedHead[] after = heads(still);
                        for (int x = 0; x < before.length; x++) {
                            assertEquals(before[x].firstPosition(), after[x].firstPosition());
                            assertArrayEquals(before[x].keys(), after[x].keys(), "the other side's keys" + TestSeeds.replay());
                            assertArrayEquals(before[x].values(), after[x].values(), "the other side's values");
                        }
                        int[][] again = AttentionBits.of(still, q, out);
                        for (int l = 0; l < SHAPE.layers(); l++) {
                            assertArrayEquals(bits[l], again[l], "the other side's attention, layer " + l);
                        }
                        assertWindowIsNewest(moving, ok[i], ov[i], own);
                    }
                }
            }
            assertEquals(0, pool.pagesInUse());
        }
    }

    private static DequantizedHead[] heads(KvCache c) {
        DequantizedHead[] all = new DequantizedHead[SHAPE.layers() * SHAPE.kvHeads()];
        for (int l = 0; l < SHAPE.layers(); l++) {
            for (int h = 0; h < SHAPE.kvHeads(); h++) {
                all[l * SHAPE.kvHeads() + h] = c.dequantize(l, h);
            }
        }
        return all;
    }

    /** The window of every head holds the newest of the {@code n} tokens of k / v, exactly. */
    private static void assertWindowIsNewest(KvCache c, MemorySegment k, MemorySegment v, int n) {
        int d = SHAPE.headDim();
        for (int l = 0; l < SHAPE.layers(); l++) {
            for (int h = 0; h < SHAPE.kvHeads(); h++) {
                HeadStream hs = c.stream(l, h);
                int w = hs.windowCount();
                assertTrue(w > 0 && w <= n);
                for (int j = 0; j < w; j++) {
                    long src = ((long) (n - w + j) * SHAPE.kvHeads() + h) * d;
                    for (int ch = 0; ch < d; ch++) {
                        assertEquals(k.getAtIndex(ValueLayout.JAVA_FLOAT, src + ch),
                                hs.windowKeys(j).getAtIndex(ValueLayout.JAVA_FLOAT, (long) hs.windowSlot(j) * d + ch));
                        assertEquals(v.getAtIndex(ValueLayout.JAVA_FLOAT, src + ch),
                                hs.windowValues(j).getAtIndex(ValueLayout.JAVA_FLOAT, (long) hs.windowSlot(j) * d + ch));
                    }
                }
            }
        }
    }

    /**
     * MAPPED reads the windows in place (the restored sequence takes no chunk until it appends), a
     * fork of it shares them, and after the restored one closes the fork still reads them; a fork
     * that shares chunks saves and loads back as it is.
     */
    @Test
    void aMappedRestoreReadsItsWindowsInPlace(@TempDir Path dir) throws Exception {
        SplittableRandom rnd = TestSeeds.random(14, 5);
        CacheConfig config = config(4096);
        int prefix = 700 + rnd.nextInt(100), own = 37;
        Path file = dir.resolve("prefix.vkv"), forked = dir.resolve("fork.vkv");
        try (Arena arena = Arena.ofConfined(); PagePool pool = new PagePool(8192, 4000)) {
            MemorySegment k = KvData.keys(arena, rnd, prefix, 2, 64), v = KvData.values(arena, rnd, prefix, 2, 64);
            MemorySegment ok = KvData.keys(arena, rnd, own, 2, 64), ov = KvData.values(arena, rnd, own, 2, 64);
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.3);
            MemorySegment out = arena.allocate(8L * 64 * 4);
            try (KvCache original = KvCache.create(SHAPE, config, pool, null)) {
                append(original, k, v, 0, prefix, 61);
                original.saveTo(file);
            }
            int chunksBefore = pool.windowChunks(SHAPE.headDim()).allocated(); // the original's, free now
            KvCache restored = KvCache.openSnapshot(file, SHAPE, config, pool, null, SnapshotMode.MAPPED);
            assertEquals(0, restored.windowChunks().inUse(), "the windows are read from the mapping, not copied");
            assertEquals(chunksBefore, restored.windowChunks().allocated());
            KvCache child = restored.fork();
            assertEquals(restored.memoryReport().residualBytes(), child.memoryReport().sharedResidualBytes());
            restored.close();
            append(child, ok, ov, 0, own, 5);
            assertNotEquals(0, child.windowChunks().inUse(), "new tokens go into chunks of the pool's");
            try (KvCache want = unshared(pool, config, k, v, prefix, ok, ov, own)) {
                assertSameContent(want, child, q, out, "a fork of a mapped restore, after the restore closed");
                child.saveTo(forked);
                try (KvCache loaded = KvCache.openSnapshot(forked, SHAPE, config, pool, null, SnapshotMode.LOADED)) {
                    assertSameContent(want, loaded, q, out, "the fork saved and loaded");
                }
            }
            child.close();
            assertEquals(0, child.windowChunks().inUse());
            assertEquals(0, pool.pagesInUse());
        }
    }
}
