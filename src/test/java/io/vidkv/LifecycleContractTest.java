package io.vidkv;

import io.vidkv.kernel.DecodeAttention;
import io.vidkv.kernel.PrefillAttention;
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
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.Arrays;
import java.util.Queue;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static io.vidkv.ThreadingContractTest.OUT_BYTES;
import static io.vidkv.ThreadingContractTest.SHAPE;
import static io.vidkv.ThreadingContractTest.TOKEN_BYTES;
import static io.vidkv.ThreadingContractTest.assertRefused;
import static io.vidkv.ThreadingContractTest.config;
import static io.vidkv.ThreadingContractTest.decode;
import static io.vidkv.ThreadingContractTest.poison;
import static io.vidkv.ThreadingContractTest.tokens;

/**
 * The lifecycle half of the threading contract (the concurrent rounds are in {@link ThreadingContractTest}):
 * a closed runner or pool, every rejection before the first write, close twice on every type and use
 * after close, an unmatched endRead: each is one clear exception, the cache never turns failed, and
 * every page returns.
 */
class LifecycleContractTest {

    private static Dnnl dnnl;

    @BeforeAll
    static void openDnnl() {
        dnnl = Dnnl.create();
    }

    @AfterAll
    static void closeDnnl() {
        dnnl.close();
    }

    @Test
    void aClosedRunnerRejectsAppendsWithoutFailingTheCache() {
        SplittableRandom rnd = TestSeeds.random(1209);
        try (Arena arena = Arena.ofShared(); PagePool pool = new PagePool(8192, 1000)) {
            MemorySegment k = KvData.keys(arena, rnd, 300, 2, 64), v = KvData.values(arena, rnd, 300, 2, 64);
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.4), out = arena.allocate(OUT_BYTES);
            ParallelRunner runner = new ParallelRunner(2);
            KvCache cache = KvCache.create(SHAPE, config(), pool, runner);
            cache.append(0, k, v, 300, InputType.F32);
            int pages = pool.pagesInUse();
            runner.close();
            assertRefusedContaining("ParallelRunner is closed", () -> cache.append(1, k, v, 300, InputType.F32));
            assertRefusedContaining("ParallelRunner is closed", () -> cache.append(0, tokens(k, 0, 1), tokens(v, 0, 1), 1, InputType.F32));
            assertFalse(cache.isFailed(), "a precondition that fails before the first write never fails the cache");
            assertEquals(300, cache.tokenCount(0));
            assertEquals(0, cache.tokenCount(1));
            assertEquals(pages, pool.pagesInUse(), "the rejected appends reserved nothing");
            try (DecodeAttention withRunner = new DecodeAttention(cache, runner)) {
                poison(out);
                assertRefusedContaining("ParallelRunner is closed", () -> withRunner.attend(0, q, out));
            }
            assertFalse(cache.isFailed());
            try (KvCache serial = KvCache.create(SHAPE, config(), pool, null);
                 DecodeAttention a = new DecodeAttention(cache, null); DecodeAttention b = new DecodeAttention(serial, null)) {
                serial.append(0, k, v, 300, InputType.F32);
                assertArrayEquals(decode(b, 0, q), decode(a, 0, q), "the cache serves attention as before");
            }
            cache.protect(900); // writes other than append do not need the runner
            cache.close();
            cache.close();
            assertEquals(0, pool.pagesInUse(), "close returns every page");
            // a cache created with a runner that is already closed: rejected the same way from the first append
            KvCache late = KvCache.create(SHAPE, config(), pool, runner);
            assertRefusedContaining("ParallelRunner is closed", () -> late.append(0, k, v, 300, InputType.F32));
            assertFalse(late.isFailed());
            late.close();
            assertEquals(0, pool.pagesInUse());
            runner.close();
            assertRefusedContaining("ParallelRunner is closed", () -> runner.run(2, (item, worker) -> { }));
        }
    }

    @Test
    void aClosedPoolRejectsAppendsWithoutFailingTheCacheAndCloseStillWorks() {
        SplittableRandom rnd = TestSeeds.random(1210);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment k = KvData.keys(arena, rnd, 300, 2, 64), v = KvData.values(arena, rnd, 300, 2, 64);
            PagePool pool = new PagePool(8192, 1000);
            KvCache cache = KvCache.create(SHAPE, config(), pool, null);
            cache.append(0, k, v, 300, InputType.F32);
            pool.close();
            // neither an append that needs a page nor one that only adds to the residual window
            assertRefusedContaining("page pool is closed", () -> cache.append(0, k, v, 300, InputType.F32));
            assertRefusedContaining("page pool is closed", () -> cache.append(0, tokens(k, 0, 1), tokens(v, 0, 1), 1, InputType.F32));
            assertFalse(cache.isFailed());
            assertEquals(300, cache.tokenCount(0));
            assertDoesNotThrow(cache::close);
            assertDoesNotThrow(cache::close);
            assertDoesNotThrow(pool::close);
        }
    }

    @Test
    void everyRejectionBeforeTheFirstWriteLeavesTheCacheUsableAndUnfailed() throws Exception {
        SplittableRandom rnd = TestSeeds.random(1212);
        try (Arena arena = Arena.ofShared(); PagePool pool = new PagePool(8192, 1000);
             KvCache cache = KvCache.create(SHAPE, config(), pool, null); DecodeAttention attn = new DecodeAttention(cache, null)) {
            MemorySegment k = KvData.keys(arena, rnd, 900, 2, 64), v = KvData.values(arena, rnd, 900, 2, 64);
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.4);
            cache.append(0, tokens(k, 0, 300), tokens(v, 0, 300), 300, InputType.F32);
            float[] before = decode(attn, 0, q);
            int pages = pool.pagesInUse();
            MemorySegment nan = arena.allocate(TOKEN_BYTES);
            MemorySegment.copy(k, 0, nan, 0, TOKEN_BYTES);
            nan.setAtIndex(ValueLayout.JAVA_FLOAT, 5, Float.NaN);
            Arena closedArena = Arena.ofShared();
            MemorySegment closed = closedArena.allocate(TOKEN_BYTES);
            closedArena.close();
            // input confined to a thread that stays alive until the end (so its arena can be closed by its owner)
            CountDownLatch done = new CountDownLatch(1);
            AtomicReference<MemorySegment> foreign = new AtomicReference<>();
            CountDownLatch ready = new CountDownLatch(1);
            Thread owner = Thread.ofPlatform().daemon().start(() -> {
                try (Arena confined = Arena.ofConfined()) {
                    foreign.set(confined.allocate(TOKEN_BYTES));
                    ready.countDown();
                    done.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertTrue(ready.await(30, TimeUnit.SECONDS));
            MemorySegment one = tokens(v, 300, 1);
            java.util.List<Runnable> rejected = java.util.List.of(
                    () -> cache.append(5, k, v, 1, InputType.F32),
                    () -> cache.append(-1, k, v, 1, InputType.F32),
                    () -> cache.append(0, k, v, -1, InputType.F32),
                    () -> cache.append(0, null, v, 1, InputType.F32),
                    () -> cache.append(0, tokens(k, 0, 1), v, 2, InputType.F32),
                    () -> cache.append(0, nan, one, 1, InputType.F32),
                    () -> cache.append(0, closed, one, 1, InputType.F32),
                    () -> cache.append(0, foreign.get(), one, 1, InputType.F32),
                    () -> cache.append(0, tokens(k, 0, 800), tokens(v, 0, 800), 800, InputType.F32), // past capacity
                    () -> cache.protect(-3),
                    () -> cache.protect(10)); // already quantized
            try {
                for (int i = 0; i < rejected.size(); i++) {
                    RuntimeException e = assertThrows(RuntimeException.class, rejected.get(i)::run, "case " + i);
                    assertTrue(e instanceof IllegalArgumentException || e instanceof IllegalStateException, "case " + i + ": " + e);
                    assertFalse(cache.isFailed(), "case " + i + " (" + e.getMessage() + ") must not fail the cache");
                    assertEquals(300, cache.tokenCount(0), "case " + i);
                    assertEquals(pages, pool.pagesInUse(), "case " + i);
                }
            } finally {
                done.countDown();
                owner.join();
            }
            assertArrayEquals(before, decode(attn, 0, q), "nothing changed");
            cache.append(0, tokens(k, 300, 1), tokens(v, 300, 1), 1, InputType.F32); // and the cache takes the next append
            assertEquals(301, cache.tokenCount(0));
        }
    }

    private static void assertRefusedContaining(String part, Runnable call) {
        IllegalStateException e = assertThrows(IllegalStateException.class, call::run);
        assertTrue(e.getMessage().contains(part), "expected a message containing \"" + part + "\", got: " + e.getMessage());
    }

    @Test
    void closeIsIdempotentOnEveryTypeAndUseAfterCloseThrows() {
        SplittableRandom rnd = TestSeeds.random(1211);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment k = KvData.keys(arena, rnd, 300, 2, 64), v = KvData.values(arena, rnd, 300, 2, 64);
            MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.4), out = arena.allocate(OUT_BYTES);
            MemorySegment pq = KvData.queries(arena, rnd, 4, SHAPE, 0.4), pout = arena.allocate(4 * OUT_BYTES);

            ParallelRunner runner = new ParallelRunner(2);
            runner.close();
            runner.close();
            assertRefusedContaining("ParallelRunner is closed", () -> runner.run(3, (item, worker) -> { }));

            PagePool pool = new PagePool(8192, 10);
            pool.close();
            pool.close();
            assertRefusedContaining("page pool is closed", pool::acquire);

            KvCache cache = KvCache.create(SHAPE, config()); // owns its pool
            cache.append(0, k, v, 300, InputType.F32);
            DecodeAttention decode = new DecodeAttention(cache, null);
            PrefillAttention prefill = io.vidkv.kernel.TestPrefills.on(dnnl, cache, 4, 64);
            decode.close();
            decode.close();
            assertRefused("DecodeAttention is closed", () -> decode.attend(0, q, out));
            prefill.close();
            prefill.close();
            assertRefused("PrefillAttention is closed", () -> prefill.attend(0, pq, pout, 4, 296));
            assertRefused("PrefillAttention is closed", () -> io.vidkv.kernel.TestPrefills.attendDense(prefill, k, v, 300, pq, pout, 4, 296));

            DecodeAttention decodeOpen = new DecodeAttention(cache, null);
            PrefillAttention prefillOpen = io.vidkv.kernel.TestPrefills.on(dnnl, cache, 4, 64);
            PagePool ownPool = cache.pagePool();
            cache.close();
            cache.close();
            assertEquals(0, ownPool.pagesInUse());
            for (Supplier<Object> call : java.util.List.<Supplier<Object>>of(
                    () -> { decodeOpen.attend(0, q, out); return null; },
                    () -> { prefillOpen.attend(0, pq, pout, 4, 296); return null; },
                    () -> { cache.append(0, k, v, 1, InputType.F32); return null; },
                    () -> { cache.protect(900); return null; },
                    cache::memoryReport,
                    () -> cache.tokenCount(0),
                    () -> { cache.beginRead(); return null; })) {
                assertRefused("KvCache is closed", call::get);
            }
            assertFalse(cache.isFailed());
            decodeOpen.close();
            prefillOpen.close();
            prefillOpen.close();
        }
    }

    @Test
    void anUnmatchedEndReadIsRefusedAndCorruptsNothing() {
        try (KvCache cache = KvCache.create(SHAPE, config())) {
            assertRefused("KvCache.endRead without a matching beginRead", cache::endRead);
            cache.beginRead();
            cache.endRead();
            assertRefused("KvCache.endRead without a matching beginRead", cache::endRead);
            assertDoesNotThrow(() -> cache.protect(10)); // the word is idle again, not taken for a writer
        }
    }
}
