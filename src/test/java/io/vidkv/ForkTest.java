package io.vidkv;

import io.vidkv.kernel.DecodeAttention;
import io.vidkv.testing.AttentionBits;
import io.vidkv.testing.KvData;
import io.vidkv.testing.TestConfigs;
import io.vidkv.testing.TestSeeds;
import io.vidkv.testing.HeapWindows;
import static io.vidkv.testing.Tokens.append;
import static io.vidkv.testing.Tokens.slice;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link KvCache#fork()}: a fork shares every page of its parent and attends bit for bit like it;
 * parent and children then diverge independently (each equal to an unshared sequence fed the same
 * tokens), also from several threads at once; every page comes back whatever the close order; under
 * eviction a sequence never frees a page another one references; the steady state of a fork
 * allocates nothing on the heap.
 */
class ForkTest {

    private static final ModelShape SHAPE = new ModelShape(2, 8, 2, 64);

    private static CacheConfig config(String spec, int capacity) {
        return CacheConfig.uniform(SHAPE, TestConfigs.layer(spec)).withPageBytes(8192).withCapacity(capacity);
    }

    @ParameterizedTest
    @ValueSource(strings = {"vidkv-1.5/1.58", "vidkv-1.5/1.66-stp", "vidkv-1.5/1.58-compact", "kivi-2", "fp16"})
    void aForkAttendsBitForBitLikeItsParentAndSharesEveryPage(String spec) {
        SplittableRandom rnd = TestSeeds.random(spec.hashCode(), 1);
        CacheConfig config = config(spec, 4096);
        try (Arena arena = Arena.ofConfined(); PagePool pool = new PagePool(8192, 4000);
             KvCache parent = KvCache.create(SHAPE, config, pool, null)) {
            int prefix = 700 + rnd.nextInt(300);
            MemorySegment k = KvData.keys(arena, rnd, prefix, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, prefix, 2, 64);
            if (spec.contains("stp")) {
                parent.protect(3, 40, 41, 300, 600);
            }
            append(parent, k, v, 0, prefix, 1 + rnd.nextInt(200));
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.3);
            MemorySegment out = arena.allocate(8L * 64 * 4);
            int inUse = pool.pagesInUse();
            int[][] before = AttentionBits.of(parent, q, out);
            try (KvCache child = parent.fork()) {
                assertEquals(inUse, pool.pagesInUse(), "a fork takes no page" + TestSeeds.replay());
                for (int l = 0; l < 2; l++) {
                    assertEquals(parent.tokenCount(l), child.tokenCount(l));
                    assertEquals(parent.quantizedTokenCount(l), child.quantizedTokenCount(l));
                }
                assertTrue(child.isProtected(300) == spec.contains("stp"));
                int[][] forked = AttentionBits.of(child, q, out);
                for (int l = 0; l < 2; l++) {
                    assertArrayEquals(before[l], forked[l], spec + " layer " + l + TestSeeds.replay());
                }
                MemoryReport pr = parent.memoryReport(), cr = child.memoryReport();
                assertEquals(pr.pageBytes(), cr.pageBytes());
                assertEquals(cr.pageBytes(), cr.sharedPageBytes(), "every page of the fork is shared");
                assertEquals(0, cr.privatePageBytes());
                assertEquals(pr.residualBytes(), cr.residualBytes());
                PoolReport report = pool.report();
                assertEquals(inUse, report.pagesInUse());
                assertEquals(pr.pageBytes(), report.bytesInUse(), "the pool counts shared pages once");
                assertEquals(inUse, report.sharedPages());
                assertEquals(2L * inUse, report.references());
            }
            assertEquals(inUse, pool.pagesInUse(), "closing the fork keeps the parent's pages");
            assertEquals(0, pool.report().sharedPages());
            assertArrayEquals(before[1], AttentionBits.of(parent, q, out)[1]);
        }
    }

    /** Parent and children diverge: each attends exactly as an unshared sequence fed its tokens. */
    @ParameterizedTest
    @ValueSource(strings = {"vidkv-1.5/1.58", "vidkv-1.5/1.66-stp", "vidkv-1.5/1.58-compact"})
    void parentAndChildrenDivergeIndependently(String spec) {
        SplittableRandom rnd = TestSeeds.random(spec.hashCode(), 2);
        CacheConfig config = config(spec, 4096);
        int prefix = 600 + rnd.nextInt(200);
        int own = 300;
        try (Arena arena = Arena.ofConfined(); PagePool pool = new PagePool(8192, 4000)) {
            MemorySegment k = KvData.keys(arena, rnd, prefix, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, prefix, 2, 64);
            MemorySegment[] ok = new MemorySegment[3], ov = new MemorySegment[3];
            for (int i = 0; i < 3; i++) {
                ok[i] = KvData.keys(arena, rnd, own, 2, 64);
                ov[i] = KvData.values(arena, rnd, own, 2, 64);
            }
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.3);
            MemorySegment out = arena.allocate(8L * 64 * 4);
            KvCache parent = KvCache.create(SHAPE, config, pool, null);
            if (spec.contains("stp")) {
                parent.protect(5, 77, 650, 700, 901);
            }
            append(parent, k, v, 0, prefix, 97);
            KvCache[] seqs = {parent, parent.fork(), parent.fork()};
            for (int i = 0; i < 3; i++) { // the parent appends too, after forking
                append(seqs[i], ok[i], ov[i], 0, own, i == 0 ? 1 : 13 * i);
            }
            for (int i = 0; i < 3; i++) {
                try (KvCache unshared = KvCache.create(SHAPE, config, pool, null)) {
                    if (spec.contains("stp")) {
                        unshared.protect(5, 77, 650, 700, 901);
                    }
                    append(unshared, k, v, 0, prefix, 97);
                    append(unshared, ok[i], ov[i], 0, own, 50);
                    int[][] want = AttentionBits.of(unshared, q, out);
                    int[][] got = AttentionBits.of(seqs[i], q, out);
                    for (int l = 0; l < 2; l++) {
                        assertArrayEquals(want[l], got[l], spec + " sequence " + i + " layer " + l + TestSeeds.replay());
                    }
                }
            }
            assertTrue(seqs[1].memoryReport().privatePageBytes() > 0, "the child's own blocks are in its own pages");
            for (KvCache s : seqs) {
                s.close();
            }
            assertEquals(0, pool.pagesInUse());
            assertEquals(0, pool.report().references());
        }
    }

    /** Parent and children append and attend on their own threads at once; results as if serial. */
    @Test
    void concurrentAppendAndAttendOnParentAndChildren() throws Exception {
        SplittableRandom rnd = TestSeeds.random(3);
        CacheConfig config = config("vidkv-1.5/1.58", 4096);
        int prefix = 800, own = 400, n = 4;
        try (Arena arena = Arena.ofShared(); PagePool pool = new PagePool(8192, 4000)) {
            MemorySegment k = KvData.keys(arena, rnd, prefix, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, prefix, 2, 64);
            MemorySegment[] ok = new MemorySegment[n], ov = new MemorySegment[n];
            for (int i = 0; i < n; i++) {
                ok[i] = KvData.keys(arena, rnd, own, 2, 64);
                ov[i] = KvData.values(arena, rnd, own, 2, 64);
            }
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.3);
            KvCache parent = KvCache.create(SHAPE, config, pool, null);
            append(parent, k, v, 0, prefix, 128);
            List<KvCache> seqs = new ArrayList<>(List.of(parent));
            for (int i = 1; i < n; i++) {
                seqs.add(parent.fork());
            }
            ExecutorService ex = Executors.newFixedThreadPool(n);
            try {
                List<Future<int[][]>> results = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    int which = i;
                    results.add(ex.submit(() -> decode(seqs.get(which), ok[which], ov[which], own, q, arena)));
                }
                for (int i = 0; i < n; i++) {
                    int[][] got = results.get(i).get(120, TimeUnit.SECONDS);
                    try (KvCache serial = KvCache.create(SHAPE, config, pool, null)) {
                        append(serial, k, v, 0, prefix, 128);
                        int[][] want = decode(serial, ok[i], ov[i], own, q, arena);
                        for (int s = 0; s < want.length; s++) {
                            assertArrayEquals(want[s], got[s], "sequence " + i + " step " + s + TestSeeds.replay());
                        }
                    }
                }
            } finally {
                ex.shutdownNow();
            }
            // close in a random order: every page comes back
            java.util.Collections.shuffle(seqs, new java.util.Random(rnd.nextLong()));
            for (KvCache s : seqs) {
                s.close();
            }
            assertEquals(0, pool.pagesInUse());
            assertEquals(0, pool.report().references());
        }
    }

    /** Decode steps: append one token to each layer, attend layer 1; the outputs of every 50th step. */
    private static int[][] decode(KvCache cache, MemorySegment k, MemorySegment v, int tokens, MemorySegment q, Arena arena) {
        MemorySegment out = arena.allocate(8L * 64 * 4);
        List<int[]> outs = new ArrayList<>();
        try (DecodeAttention attn = new DecodeAttention(cache, null)) {
            for (int t = 0; t < tokens; t++) {
                for (int l = 0; l < 2; l++) {
                    cache.append(l, slice(k, t, 1, SHAPE), slice(v, t, 1, SHAPE), 1, InputType.F32);
                }
                int[] bits = AttentionBits.layer(attn, 1, q, out);
                if (t % 50 == 49) {
                    outs.add(bits);
                }
            }
        }
        return outs.toArray(new int[0][]);
    }

    @Test
    void everyCloseOrderReturnsEveryPage() {
        SplittableRandom rnd = TestSeeds.random(4);
        CacheConfig config = config("vidkv-1.5/1.58", 4096);
        try (Arena arena = Arena.ofConfined(); PagePool pool = new PagePool(8192, 4000)) {
            MemorySegment k = KvData.keys(arena, rnd, 900, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, 900, 2, 64);
            for (int order = 0; order < 24; order++) {
                KvCache root = KvCache.create(SHAPE, config, pool, null);
                append(root, k, v, 0, 500, 100);
                KvCache a = root.fork();
                append(a, k, v, 500, 200, 7);
                KvCache b = a.fork(); // a grandchild
                KvCache c = root.fork();
                append(root, k, v, 500, 400, 50);
                append(b, k, v, 700, 200, 200);
                List<KvCache> all = new ArrayList<>(List.of(root, a, b, c));
                permute(all, order);
                for (int i = 0; i < all.size(); i++) {
                    all.get(i).close();
                    if (i < all.size() - 1) {
                        assertTrue(pool.pagesInUse() > 0);
                    }
                }
                assertEquals(0, pool.pagesInUse(), "order " + order);
                assertEquals(0, pool.report().references(), "order " + order);
            }
        }
    }

    private static void permute(List<KvCache> list, int index) {
        List<KvCache> rest = new ArrayList<>(list);
        list.clear();
        for (int n = rest.size(); n > 0; n--) {
            int f = 1;
            for (int i = 2; i < n; i++) {
                f *= i;
            }
            list.add(rest.remove(index / f % n));
            index %= f;
        }
    }

    /**
     * A child under EVICT_OLDEST streams far past its capacity: it only drops its references, the
     * parent's pages stay (the parent attends exactly as before), and the pool holds the parent's
     * pages plus the child's bounded own ones.
     */
    @Test
    void evictionNeverFreesPagesAnotherSequenceReferences() {
        SplittableRandom rnd = TestSeeds.random(5);
        CacheConfig config = CacheConfig.uniform(SHAPE, Preset.byId("vidkv-1.5/1.58").layerConfig()).withPageBytes(8192)
                .withCapacity(CapacityPolicy.evictOldest(1024));
        try (Arena arena = Arena.ofConfined(); PagePool pool = new PagePool(8192, 4000)) {
            MemorySegment k = KvData.keys(arena, rnd, 5000, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, 5000, 2, 64);
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.3);
            MemorySegment out = arena.allocate(8L * 64 * 4);
            KvCache parent = KvCache.create(SHAPE, config, pool, null);
            append(parent, k, v, 0, 1000, 100);
            int parentPages = pool.pagesInUse();
            int[][] before = AttentionBits.of(parent, q, out);
            KvCache child = parent.fork();
            int maxInUse = 0;
            for (int t = 1000; t < 5000; t += 25) {
                append(child, k, v, t, 25, 25);
                maxInUse = Math.max(maxInUse, pool.pagesInUse());
            }
            assertTrue(child.firstRetainedToken(0) > 1000, "the child evicted past the shared prefix");
            assertEquals(0, child.memoryReport().sharedPageBytes(), "the child dropped every shared page");
            int[][] after = AttentionBits.of(parent, q, out);
            for (int l = 0; l < 2; l++) {
                assertArrayEquals(before[l], after[l], "the parent's blocks are untouched" + TestSeeds.replay());
            }
            int childPages = (int) (child.memoryReport().pageBytes() / 8192);
            assertEquals(parentPages + childPages, pool.pagesInUse());
            assertTrue(maxInUse <= parentPages + childPages + 2 * 2 * 2, "pages bounded: " + maxInUse);
            // the parent evicts too, while the child still... no longer references anything of it
            append(parent, k, v, 1000, 2000, 40);
            parent.close();
            assertEquals(childPages, pool.pagesInUse());
            child.close();
            assertEquals(0, pool.pagesInUse());
        }
    }

    /** The parent evicts pages a child still references: the child keeps attending them. */
    @Test
    void aParentsEvictionLeavesTheChildsPages() {
        SplittableRandom rnd = TestSeeds.random(6);
        CacheConfig config = CacheConfig.uniform(SHAPE, Preset.byId("vidkv-1.5/1.58").layerConfig()).withPageBytes(8192)
                .withCapacity(CapacityPolicy.evictOldest(1024));
        try (Arena arena = Arena.ofConfined(); PagePool pool = new PagePool(8192, 4000)) {
            MemorySegment k = KvData.keys(arena, rnd, 4000, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, 4000, 2, 64);
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.3);
            MemorySegment out = arena.allocate(8L * 64 * 4);
            try (KvCache parent = KvCache.create(SHAPE, config, pool, null)) {
                append(parent, k, v, 0, 1000, 100);
                try (KvCache child = parent.fork()) {
                    int[][] before = AttentionBits.of(child, q, out);
                    append(parent, k, v, 1000, 3000, 30);
                    assertTrue(parent.firstRetainedToken(0) > 1000);
                    int[][] after = AttentionBits.of(child, q, out);
                    for (int l = 0; l < 2; l++) {
                        assertArrayEquals(before[l], after[l], "layer " + l + TestSeeds.replay());
                    }
                }
            }
            assertEquals(0, pool.pagesInUse());
        }
    }

    @Test
    void aForkOfASequenceWithItsOwnPoolKeepsThePoolOpen() {
        SplittableRandom rnd = TestSeeds.random(7);
        CacheConfig config = config("vidkv-1.5/1.58", 1200);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment k = KvData.keys(arena, rnd, 1200, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, 1200, 2, 64);
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.3);
            MemorySegment out = arena.allocate(8L * 64 * 4);
            KvCache parent = KvCache.create(SHAPE, config);
            append(parent, k, v, 0, 600, 100);
            int[][] want = AttentionBits.of(parent, q, out);
            KvCache child = parent.fork();
            PagePool pool = parent.pagePool();
            parent.close();
            assertFalse(pool.isClosed(), "the fork holds the pool");
            assertArrayEquals(want[0], AttentionBits.of(child, q, out)[0]);
            append(child, k, v, 600, 600, 100); // its own pages: the pool grew by one sequence's budget
            child.close();
            assertTrue(pool.isClosed(), "the last holder closes the pool");
        }
    }

    @Test
    void forkIsRefusedWhereSharingCannotBeSafe() {
        SplittableRandom rnd = TestSeeds.random(8);
        try (Arena arena = Arena.ofConfined();
             KvCache ref = KvCache.create(SHAPE, config("vidkv-reference-1.5/1.58", 2048))) {
            MemorySegment k = KvData.keys(arena, rnd, 300, 2, 64);
            MemorySegment v = KvData.values(arena, rnd, 300, 2, 64);
            append(ref, k, v, 0, 300, 300);
            IllegalStateException e = assertThrows(IllegalStateException.class, ref::fork);
            assertTrue(e.getMessage().contains("reference mode"), e.getMessage());
        }
        KvCache closed = KvCache.create(SHAPE, config("vidkv-1.5/1.58", 2048));
        closed.close();
        assertThrows(IllegalStateException.class, closed::fork);
    }

    @Tag("allocation")
    @Test
    void aForksSteadyStateAppendAndDecodeAllocateNothing() {
        io.vidkv.testing.EncoderWarmup.run(); // the encoders C2-compiled, as after a server's prefills
        ModelShape shape = new ModelShape(2, 8, 2, 128);
        SplittableRandom rnd = TestSeeds.random(9);
        CacheConfig config = CacheConfig.of(shape, Preset.byId("vidkv-1.5/1.58")).withCapacity(4096);
        try (Arena arena = Arena.ofShared(); PagePool pool = new PagePool(config.pageBytes(), 10_000)) {
            MemorySegment k = KvData.keys(arena, rnd, 3200, 2, 128);
            MemorySegment v = KvData.values(arena, rnd, 3200, 2, 128);
            try (KvCache previous = KvCache.create(shape, config, pool, null)) { // a warm pool
                for (int l = 0; l < 2; l++) {
                    previous.append(l, k, v, 3200, InputType.F32);
                }
            }
            KvCache parent = KvCache.create(shape, config, pool, null);
            for (int l = 0; l < 2; l++) {
                parent.append(l, k, v, 1000, InputType.F32);
            }
            KvCache cache = parent.fork();
            DecodeAttention attn = new DecodeAttention(cache, null);
            MemorySegment q = KvData.queries(arena, rnd, shape, 0.3);
            MemorySegment out = arena.allocate(8L * 128 * 4);
            java.util.function.IntConsumer step = io.vidkv.testing.Tokens.decodeSteps(cache, attn, k, v, 1000, 2200, q, out);
            for (int t = 0; t < 1000; t++) { // warm-up: C2 compiles the Vector API paths
                step.accept(t);
            }
            long[] windows = HeapWindows.untilQuiet(step, 1000, 200, 6);
            // on failure, where it allocates: 800 steps more (the same tokens again, within capacity)
            String sites = HeapWindows.quiet(windows) ? "" : HeapWindows.byCall(cache, attn, k, v, 1000, 800, q, out);
            attn.close();
            cache.close();
            parent.close();
            assertTrue(HeapWindows.quiet(windows), "no allocation-free window of 200 decode steps on a fork; bytes per window "
                    + Arrays.toString(windows) + "; " + sites);
            assertEquals(0, pool.pagesInUse());
        }
    }
}
