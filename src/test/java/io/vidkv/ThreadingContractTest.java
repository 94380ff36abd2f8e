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

/**
 * The threading contract (README, "Decisions and what they cost", Threads): one thread at a time
 * writes a sequence and attention reads it only between writes; one attention object per thread.
 * Misuse from two threads makes every call either behave exactly as in a serial run or throw an
 * {@link IllegalStateException} that names what was shared, with nothing changed: never a wrong
 * output, a failed cache or a leaked page. The rounds race two threads released by a barrier; the
 * tests that need an overlap for certain hold one call inside the cache by making it wait for the
 * {@link ParallelRunner}'s monitor, which a third thread holds.
 */
class ThreadingContractTest {

    static final ModelShape SHAPE = new ModelShape(2, 4, 2, 64);
    static final long TOKEN_BYTES = (long) SHAPE.tokenElements() * Float.BYTES;
    static final long OUT_BYTES = (long) SHAPE.queryHeads() * SHAPE.headDim() * Float.BYTES;
    static final Duration WATCHDOG = Duration.ofSeconds(180);
    static final String DECODE_IN_USE = "DecodeAttention is in use by another thread: create one DecodeAttention per thread";
    static final String PREFILL_IN_USE = "PrefillAttention is in use by another thread: create one PrefillAttention per thread";

    private static Dnnl dnnl;

    @BeforeAll
    static void openDnnl() {
        dnnl = Dnnl.create();
    }

    @AfterAll
    static void closeDnnl() {
        dnnl.close();
    }

    static CacheConfig config() {
        return CacheConfig.of(SHAPE, Preset.VIDKV_15_166_STP).withPageBytes(8192).withCapacity(1024);
    }

    static MemorySegment tokens(MemorySegment seg, int from, int n) {
        return seg.asSlice(from * TOKEN_BYTES, n * TOKEN_BYTES);
    }

    /** Fills {@code out} with NaN bits, so that a refused call can be shown to have written nothing. */
    static void poison(MemorySegment out) {
        out.fill((byte) 0xFF);
    }

    static boolean untouched(MemorySegment out) {
        for (long i = 0; i < out.byteSize(); i++) {
            if (out.get(ValueLayout.JAVA_BYTE, i) != (byte) 0xFF) {
                return false;
            }
        }
        return true;
    }

    static float[] decode(DecodeAttention attention, int layer, MemorySegment q) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(OUT_BYTES);
            attention.attend(layer, q, out);
            return out.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    /** What the calls of a concurrent run did; every call lands in exactly one of the counts or in {@link #unexpected}. */
    private static final class Tally {
        final AtomicInteger exact = new AtomicInteger();
        final AtomicInteger refused = new AtomicInteger();
        final AtomicInteger wrong = new AtomicInteger();
        final Queue<Throwable> unexpected = new ConcurrentLinkedQueue<>();

        /** A refusal with the expected message (and, for attention, an untouched output); anything else is unexpected. */
        void refusal(IllegalStateException e, String expectedStart, boolean outputUntouched) {
            if (e.getMessage() != null && e.getMessage().startsWith(expectedStart) && outputUntouched) {
                refused.incrementAndGet();
            } else {
                unexpected.add(new AssertionError("refusal should start with \"" + expectedStart + "\" and write nothing"
                        + " (output untouched: " + outputUntouched + ")", e));
            }
        }

        void assertClean(String what, int calls) {
            String report = what + ": " + this + TestSeeds.replay();
            System.out.println("ThreadingContractTest " + report);
            Throwable first = unexpected.peek();
            if (first != null) {
                throw new AssertionError(report + ": " + unexpected.size() + " unexpected outcomes, the first attached", first);
            }
            assertEquals(0, wrong.get(), report + ": wrong outputs");
            if (calls >= 0) {
                assertEquals(calls, exact.get() + refused.get(), report + ": calls unaccounted for");
            }
        }

        @Override
        public String toString() {
            return "exact " + exact + ", refused " + refused + ", wrong " + wrong + ", unexpected " + unexpected.size();
        }
    }

    /** Runs the two bodies on two new threads and waits for both; a throwable escaping a body is unexpected. */
    private static void runTwo(Tally tally, Runnable a, Runnable b) throws InterruptedException {
        Thread ta = Thread.ofPlatform().daemon().name("contract-a").start(guard(tally, a));
        Thread tb = Thread.ofPlatform().daemon().name("contract-b").start(guard(tally, b));
        ta.join(TimeUnit.SECONDS.toMillis(60));
        tb.join(TimeUnit.SECONDS.toMillis(60));
        assertFalse(ta.isAlive() || tb.isAlive(), "a thread did not finish within a minute (deadlock?)");
    }

    private static Runnable guard(Tally tally, Runnable body) {
        return () -> {
            try {
                body.run();
            } catch (Throwable t) {
                tally.unexpected.add(t);
            }
        };
    }

    static void await(CyclicBarrier barrier) {
        try {
            barrier.await(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new RuntimeException("barrier broken", e);
        }
    }

    /** Waits until {@code t} is blocked on the monitor {@code owner} holds. */
    static void awaitBlockedBy(Thread t, Thread owner) throws InterruptedException {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            ThreadInfo info = mx.getThreadInfo(t.threadId());
            if (info != null && info.getThreadState() == Thread.State.BLOCKED && info.getLockOwnerId() == owner.threadId()) {
                return;
            }
            assertTrue(t.isAlive(), t.getName() + " ended before it blocked");
            assertTrue(System.nanoTime() < deadline, t.getName() + " never blocked on the runner");
            Thread.sleep(1);
        }
    }

    /** A thread that holds {@code runner}'s monitor (one run of one item) until {@code release} opens. */
    static Thread holdRunner(ParallelRunner runner, CountDownLatch release) throws InterruptedException {
        CountDownLatch holding = new CountDownLatch(1);
        Thread holder = Thread.ofPlatform().daemon().name("runner-holder").start(() -> runner.run(1, (item, worker) -> {
            holding.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        assertTrue(holding.await(30, TimeUnit.SECONDS), "the holder never ran");
        return holder;
    }

    /** A call on another thread; its throwable, if any, is kept. */
    static Thread start(String name, AtomicReference<Throwable> error, Runnable body) {
        return Thread.ofPlatform().daemon().name(name).start(() -> {
            try {
                body.run();
            } catch (Throwable t) {
                error.set(t);
            }
        });
    }

    static void assertRefused(String expectedStart, Runnable call) {
        IllegalStateException e = assertThrows(IllegalStateException.class, call::run);
        assertTrue(e.getMessage().startsWith(expectedStart), "expected \"" + expectedStart + "...\", got: " + e.getMessage());
    }

    // --- one DecodeAttention shared by two threads -------------------------------------------------

    @ParameterizedTest(name = "layers {0} and {1}, runner threads {2}")
    @CsvSource({"0, 0, 0", "0, 1, 0", "0, 1, 2"})
    void twoThreadsSharingOneDecodeAttentionGetTheSerialOutputOrAnException(int layerA, int layerB, int runnerThreads) {
        assertTimeoutPreemptively(WATCHDOG, () -> {
            int rounds = 200;
            SplittableRandom rnd = TestSeeds.random(1201, layerA, layerB, runnerThreads);
            try (Arena arena = Arena.ofShared();
                 ParallelRunner runner = runnerThreads > 0 ? new ParallelRunner(runnerThreads) : null;
                 PagePool pool = new PagePool(8192, 1000)) {
                KvCache cache = KvCache.create(SHAPE, config(), pool, runner);
                DecodeAttention shared = new DecodeAttention(cache, runner);
                for (int l = 0; l < SHAPE.layers(); l++) { // different tokens per layer, so a mix-up of layers shows
                    cache.append(l, KvData.keys(arena, rnd, 300, 2, 64), KvData.values(arena, rnd, 300, 2, 64), 300, InputType.F32);
                }
                MemorySegment qa = KvData.queries(arena, rnd, SHAPE, 0.4), qb = KvData.queries(arena, rnd, SHAPE, 0.4);
                float[] refA = decode(shared, layerA, qa), refB = decode(shared, layerB, qb);
                assertFalse(Arrays.equals(refA, refB));
                Tally tally = new Tally();
                MemorySegment outA = arena.allocate(OUT_BYTES), outB = arena.allocate(OUT_BYTES);
                for (int r = 0; r < rounds; r++) {
                    CyclicBarrier start = new CyclicBarrier(2);
                    runTwo(tally, () -> attendRound(shared, layerA, qa, outA, refA, start, tally),
                            () -> attendRound(shared, layerB, qb, outB, refB, start, tally));
                }
                tally.assertClean("one DecodeAttention on layers " + layerA + " and " + layerB + ", runner " + runnerThreads
                        + ", " + rounds + " rounds", 2 * rounds);
                assertFalse(cache.isFailed());
                assertArrayEquals(refA, decode(shared, layerA, qa), "the instance works on after the races");
                shared.close();
                cache.close();
                assertEquals(0, pool.pagesInUse(), "every page returns to the pool");
            }
        });
    }

    private static void attendRound(DecodeAttention attention, int layer, MemorySegment q, MemorySegment out, float[] ref,
                                    CyclicBarrier start, Tally tally) {
        poison(out);
        await(start);
        try {
            attention.attend(layer, q, out);
        } catch (IllegalStateException e) {
            tally.refusal(e, DECODE_IN_USE, untouched(out));
            return;
        }
        (Arrays.equals(ref, out.toArray(ValueLayout.JAVA_FLOAT)) ? tally.exact : tally.wrong).incrementAndGet();
    }

    @Test
    void oneDecodeAttentionPerThreadReadsOneCacheConcurrently() {
        assertTimeoutPreemptively(WATCHDOG, () -> {
            int rounds = 200;
            SplittableRandom rnd = TestSeeds.random(1202);
            try (Arena arena = Arena.ofShared(); PagePool pool = new PagePool(8192, 1000);
                 KvCache cache = KvCache.create(SHAPE, config(), pool, null);
                 DecodeAttention a = new DecodeAttention(cache, null); DecodeAttention b = new DecodeAttention(cache, null)) {
                for (int l = 0; l < SHAPE.layers(); l++) {
                    cache.append(l, KvData.keys(arena, rnd, 300, 2, 64), KvData.values(arena, rnd, 300, 2, 64), 300, InputType.F32);
                }
                MemorySegment qa = KvData.queries(arena, rnd, SHAPE, 0.4), qb = KvData.queries(arena, rnd, SHAPE, 0.4);
                float[] refA = decode(a, 0, qa), refB = decode(a, 1, qb);
                Tally tally = new Tally();
                MemorySegment outA = arena.allocate(OUT_BYTES), outB = arena.allocate(OUT_BYTES);
                for (int r = 0; r < rounds; r++) {
                    CyclicBarrier start = new CyclicBarrier(2);
                    runTwo(tally, () -> attendRound(a, 0, qa, outA, refA, start, tally), () -> attendRound(b, 1, qb, outB, refB, start, tally));
                }
                tally.assertClean("a DecodeAttention per thread, " + rounds + " rounds", 2 * rounds);
                assertEquals(0, tally.refused.get(), "reads of one cache from two threads are allowed");
            }
        });
    }

    // --- one PrefillAttention shared by two threads ------------------------------------------------

    @Test
    void twoThreadsSharingOnePrefillAttentionGetTheSerialOutputOrAnException() {
        assertTimeoutPreemptively(WATCHDOG, () -> {
            int rounds = 60, n = 6;
            SplittableRandom rnd = TestSeeds.random(1203);
            try (Arena arena = Arena.ofShared(); PagePool pool = new PagePool(8192, 1000);
                 KvCache cache = KvCache.create(SHAPE, config(), pool, null);
                 PrefillAttention shared = io.vidkv.kernel.TestPrefills.on(dnnl, cache, n, 64)) {
                for (int l = 0; l < SHAPE.layers(); l++) {
                    cache.append(l, KvData.keys(arena, rnd, 300, 2, 64), KvData.values(arena, rnd, 300, 2, 64), 300, InputType.F32);
                }
                long bytes = n * OUT_BYTES;
                MemorySegment qa = KvData.queries(arena, rnd, n, SHAPE, 0.4), qb = KvData.queries(arena, rnd, n, SHAPE, 0.4);
                MemorySegment outA = arena.allocate(bytes), outB = arena.allocate(bytes);
                shared.attend(0, qa, outA, n, 294);
                float[] refA = outA.toArray(ValueLayout.JAVA_FLOAT);
                shared.attend(1, qb, outB, n, 200);
                float[] refB = outB.toArray(ValueLayout.JAVA_FLOAT);
                Tally tally = new Tally();
                for (int r = 0; r < rounds; r++) {
                    CyclicBarrier start = new CyclicBarrier(2);
                    runTwo(tally, () -> prefillRound(shared, 0, qa, outA, n, 294, refA, start, tally),
                            () -> prefillRound(shared, 1, qb, outB, n, 200, refB, start, tally));
                }
                tally.assertClean("one PrefillAttention on layers 0 and 1, " + rounds + " rounds", 2 * rounds);
                assertFalse(cache.isFailed());
            }
        });
    }

    private static void prefillRound(PrefillAttention attention, int layer, MemorySegment q, MemorySegment out, int n, int first,
                                     float[] ref, CyclicBarrier start, Tally tally) {
        poison(out);
        await(start);
        try {
            attention.attend(layer, q, out, n, first);
        } catch (IllegalStateException e) {
            tally.refusal(e, PREFILL_IN_USE, untouched(out));
            return;
        }
        (Arrays.equals(ref, out.toArray(ValueLayout.JAVA_FLOAT)) ? tally.exact : tally.wrong).incrementAndGet();
    }

    // --- two threads appending to one sequence -----------------------------------------------------

    @Test
    void twoThreadsAppendingToOneSequenceAppendWholeOrThrowAndNothingLeaks() {
        assertTimeoutPreemptively(WATCHDOG, () -> {
            int rounds = 24;
            SplittableRandom rnd = TestSeeds.random(1204);
            try (Arena arena = Arena.ofShared(); ParallelRunner runner = new ParallelRunner(2);
                 PagePool pool = new PagePool(8192, 4000)) {
                MemorySegment k = KvData.keys(arena, rnd, 360, 2, 64), v = KvData.values(arena, rnd, 360, 2, 64);
                MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.4);
                // (layer, first token, tokens): a prefill in chunks of 150 per layer, then 30 decode tokens per layer.
                // Both threads append the same tokens in a step, so a serial replay needs only each step's count.
                int[][] steps = new int[64][];
                int at = 0;
                for (int c = 0; c < 2; c++) {
                    for (int l = 0; l < 2; l++) {
                        steps[at++] = new int[]{l, 150 * c, 150};
                    }
                }
                for (int t = 0; t < 30; t++) {
                    for (int l = 0; l < 2; l++) {
                        steps[at++] = new int[]{l, 300 + t, 1};
                    }
                }
                Tally tally = new Tally();
                for (int r = 0; r < rounds; r++) {
                    AtomicIntegerArray done = new AtomicIntegerArray(steps.length);
                    KvCache cache = KvCache.create(SHAPE, config(), pool, runner);
                    CyclicBarrier barrier = new CyclicBarrier(2);
                    Runnable writer = () -> {
                        for (int s = 0; s < steps.length; s++) {
                            int[] st = steps[s];
                            await(barrier);
                            try {
                                cache.append(st[0], tokens(k, st[1], st[2]), tokens(v, st[1], st[2]), st[2], InputType.F32);
                            } catch (IllegalStateException e) {
                                tally.refusal(e, "KvCache is being appended to by another thread (layer " + st[0] + ")", true);
                                continue;
                            }
                            done.incrementAndGet(s);
                            tally.exact.incrementAndGet();
                        }
                    };
                    runTwo(tally, writer, writer);
                    assertFalse(cache.isFailed(), "round " + r + ": the cache must not be failed" + TestSeeds.replay());
                    try (KvCache serial = KvCache.create(SHAPE, config(), pool, null);
                         DecodeAttention concurrentAttn = new DecodeAttention(cache, null);
                         DecodeAttention serialAttn = new DecodeAttention(serial, null)) {
                        int[] expected = new int[2];
                        for (int s = 0; s < steps.length; s++) {
                            int[] st = steps[s];
                            for (int i = 0; i < done.get(s); i++) {
                                serial.append(st[0], tokens(k, st[1], st[2]), tokens(v, st[1], st[2]), st[2], InputType.F32);
                                expected[st[0]] += st[2];
                            }
                        }
                        for (int l = 0; l < 2; l++) {
                            assertEquals(expected[l], cache.tokenCount(l), "round " + r + ", layer " + l + ": tokens = successful appends");
                            assertEquals(serial.quantizedTokenCount(l), cache.quantizedTokenCount(l));
                            assertArrayEquals(decode(serialAttn, l, q), decode(concurrentAttn, l, q),
                                    "round " + r + ", layer " + l + ": attention equals the serial cache's" + TestSeeds.replay());
                        }
                    }
                    cache.close();
                    assertEquals(0, pool.pagesInUse(), "round " + r + ": close returns every page");
                }
                tally.assertClean("two threads appending, " + rounds + " rounds of " + steps.length + " steps", 2 * rounds * steps.length);
            }
        });
    }

    // --- append on one thread while another attends ------------------------------------------------

    @Test
    void appendWhileAttendOnAnotherThreadRefusesOneOfThemAndCorruptsNothing() {
        assertTimeoutPreemptively(WATCHDOG, () -> {
            int rounds = 20, prefill = 200, extra = 60;
            SplittableRandom rnd = TestSeeds.random(1205);
            try (Arena arena = Arena.ofShared(); PagePool pool = new PagePool(8192, 4000)) {
                MemorySegment k = KvData.keys(arena, rnd, prefill + extra, 2, 64), v = KvData.values(arena, rnd, prefill + extra, 2, 64);
                MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.4);
                float[][] ref = new float[prefill + extra + 1][]; // ref[n]: layer 0's output over its first n tokens
                try (KvCache serial = KvCache.create(SHAPE, config(), pool, null); DecodeAttention attn = new DecodeAttention(serial, null)) {
                    serial.append(0, tokens(k, 0, prefill), tokens(v, 0, prefill), prefill, InputType.F32);
                    ref[prefill] = decode(attn, 0, q);
                    for (int t = prefill; t < prefill + extra; t++) {
                        serial.append(0, tokens(k, t, 1), tokens(v, t, 1), 1, InputType.F32);
                        ref[t + 1] = decode(attn, 0, q);
                    }
                }
                Tally appends = new Tally(), attends = new Tally();
                for (int r = 0; r < rounds; r++) {
                    KvCache cache = KvCache.create(SHAPE, config(), pool, null);
                    DecodeAttention attn = new DecodeAttention(cache, null);
                    cache.append(0, tokens(k, 0, prefill), tokens(v, 0, prefill), prefill, InputType.F32);
                    CyclicBarrier start = new CyclicBarrier(2);
                    AtomicBoolean writing = new AtomicBoolean(true);
                    MemorySegment out = arena.allocate(OUT_BYTES);
                    runTwo(appends, () -> {
                        await(start);
                        try {
                            for (int t = prefill; t < prefill + extra; ) {
                                try {
                                    cache.append(0, tokens(k, t, 1), tokens(v, t, 1), 1, InputType.F32);
                                    t++;
                                    appends.exact.incrementAndGet();
                                } catch (IllegalStateException e) { // refused with nothing changed: the same token again
                                    appends.refusal(e, "KvCache is being read by attention on another thread", true);
                                    Thread.yield();
                                }
                            }
                        } finally {
                            writing.set(false);
                        }
                    }, () -> {
                        await(start);
                        while (writing.get()) {
                            int before = cache.tokenCount(0);
                            poison(out);
                            try {
                                attn.attend(0, q, out);
                            } catch (IllegalStateException e) {
                                attends.refusal(e, "KvCache is being appended to by another thread (layer 0)", untouched(out));
                                continue;
                            }
                            int after = cache.tokenCount(0);
                            // appends only add, and none overlaps the attend: it saw some count in [before, after]
                            float[] got = out.toArray(ValueLayout.JAVA_FLOAT);
                            boolean match = false;
                            for (int n = before; n <= after && !match; n++) {
                                match = Arrays.equals(ref[n], got);
                            }
                            (match ? attends.exact : attends.wrong).incrementAndGet();
                        }
                    });
                    assertFalse(cache.isFailed(), "round " + r + TestSeeds.replay());
                    assertEquals(prefill + extra, cache.tokenCount(0));
                    assertArrayEquals(ref[prefill + extra], decode(attn, 0, q), "round " + r + ": the final cache equals the serial one");
                    attn.close();
                    cache.close();
                    assertEquals(0, pool.pagesInUse(), "round " + r + ": close returns every page");
                }
                appends.assertClean("appends while attending, " + rounds + " rounds", -1);
                attends.assertClean("attends while appending, " + rounds + " rounds", -1);
                assertEquals(rounds * extra, appends.exact.get());
            }
        });
    }

    // --- deterministic overlaps: one call held inside the cache ------------------------------------

    @Test
    void aWriteInProgressRefusesEveryOtherCallAndChangesNothing() {
        assertTimeoutPreemptively(WATCHDOG, () -> {
            SplittableRandom rnd = TestSeeds.random(1206);
            try (Arena arena = Arena.ofShared(); ParallelRunner runner = new ParallelRunner(2); PagePool pool = new PagePool(8192, 1000);
                 KvCache cache = KvCache.create(SHAPE, config(), pool, runner);
                 DecodeAttention decode = new DecodeAttention(cache, null);
                 PrefillAttention prefill = io.vidkv.kernel.TestPrefills.on(dnnl, cache, 4, 64)) {
                MemorySegment k = KvData.keys(arena, rnd, 400, 2, 64), v = KvData.values(arena, rnd, 400, 2, 64);
                MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.4), out = arena.allocate(OUT_BYTES);
                MemorySegment pq = KvData.queries(arena, rnd, 4, SHAPE, 0.4), pout = arena.allocate(4 * OUT_BYTES);
                cache.append(0, tokens(k, 0, 300), tokens(v, 0, 300), 300, InputType.F32);
                cache.append(1, tokens(k, 0, 300), tokens(v, 0, 300), 300, InputType.F32);
                CountDownLatch release = new CountDownLatch(1);
                Thread holder = holdRunner(runner, release);
                AtomicReference<Throwable> error = new AtomicReference<>();
                // an append big enough to quantize its heads on the runner: it waits for the runner inside the write
                Thread writer;
                try { // a failed assertion must still let the held threads go
                    writer = start("writer", error, () -> cache.append(1, tokens(k, 300, 100), tokens(v, 300, 100), 100, InputType.F32));
                    awaitBlockedBy(writer, holder);
                    String busy = "KvCache is being appended to by another thread (layer 1): one thread at a time writes a sequence";
                    poison(out);
                    assertRefused(busy, () -> decode.attend(0, q, out));
                    assertTrue(untouched(out), "a refused attend writes nothing");
                    poison(pout);
                    assertRefused(busy, () -> prefill.attend(0, pq, pout, 4, 296));
                    assertTrue(untouched(pout));
                    assertRefused(busy, () -> cache.append(0, tokens(k, 300, 1), tokens(v, 300, 1), 1, InputType.F32));
                    assertRefused(busy, () -> cache.protect(1000));
                    assertRefused(busy, cache::memoryReport);
                    assertRefused(busy, cache::close);
                    assertFalse(cache.isFailed(), "a refused call never fails the cache");
                    assertFalse(cache.isClosed());
                } finally {
                    release.countDown();
                }
                writer.join();
                holder.join();
                assertNull(error.get(), "the held append completes");
                try (KvCache serial = KvCache.create(SHAPE, config(), pool, null); DecodeAttention serialAttn = new DecodeAttention(serial, null)) {
                    serial.append(0, tokens(k, 0, 300), tokens(v, 0, 300), 300, InputType.F32);
                    serial.append(1, tokens(k, 0, 400), tokens(v, 0, 400), 400, InputType.F32);
                    for (int l = 0; l < 2; l++) {
                        assertEquals(serial.tokenCount(l), cache.tokenCount(l));
                        assertArrayEquals(decode(serialAttn, l, q), decode(decode, l, q), "layer " + l);
                    }
                }
                assertFalse(cache.isProtected(1000), "the refused protect changed nothing");
                decode.close();
                prefill.close();
                cache.close();
                assertEquals(0, pool.pagesInUse());
            }
        });
    }

    @Test
    void anAttendInProgressRefusesWritesAndTheSameInstanceButNotOtherReaders() {
        assertTimeoutPreemptively(WATCHDOG, () -> {
            SplittableRandom rnd = TestSeeds.random(1207);
            try (Arena arena = Arena.ofShared(); ParallelRunner runner = new ParallelRunner(2); PagePool pool = new PagePool(8192, 1000);
                 KvCache cache = KvCache.create(SHAPE, config(), pool, null);
                 DecodeAttention held = new DecodeAttention(cache, runner);
                 DecodeAttention other = new DecodeAttention(cache, null);
                 PrefillAttention prefill = io.vidkv.kernel.TestPrefills.on(dnnl, cache, 4, 64)) {
                MemorySegment k = KvData.keys(arena, rnd, 301, 2, 64), v = KvData.values(arena, rnd, 301, 2, 64);
                cache.append(0, tokens(k, 0, 300), tokens(v, 0, 300), 300, InputType.F32);
                cache.append(1, tokens(k, 0, 300), tokens(v, 0, 300), 300, InputType.F32);
                MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.4), heldOut = arena.allocate(OUT_BYTES), out = arena.allocate(OUT_BYTES);
                MemorySegment pq = KvData.queries(arena, rnd, 4, SHAPE, 0.4), pout = arena.allocate(4 * OUT_BYTES);
                float[] ref = decode(other, 0, q);
                prefill.attend(0, pq, pout, 4, 296);
                float[] prefillRef = pout.toArray(ValueLayout.JAVA_FLOAT);
                long reportBytes = cache.memoryReport().quantizedBytes();
                CountDownLatch release = new CountDownLatch(1);
                Thread holder = holdRunner(runner, release);
                AtomicReference<Throwable> error = new AtomicReference<>();
                Thread reader;
                try { // a failed assertion must still let the held threads go
                    reader = start("reader", error, () -> held.attend(0, q, heldOut)); // waits for the runner inside the step
                    awaitBlockedBy(reader, holder);
                    poison(out);
                    assertRefused(DECODE_IN_USE, () -> held.attend(1, q, out));
                    assertTrue(untouched(out));
                    assertRefused("DecodeAttention is in use by another thread: close it after that attend returns", held::close);
                    String busy = "KvCache is being read by attention on another thread: one thread at a time writes a sequence";
                    assertRefused(busy, () -> cache.append(0, tokens(k, 300, 1), tokens(v, 300, 1), 1, InputType.F32));
                    assertRefused(busy, () -> cache.protect(1000));
                    assertRefused(busy, cache::close);
                    // reads overlap freely: another attention object, prefill attention and the memory report
                    assertArrayEquals(ref, decode(other, 0, q));
                    prefill.attend(0, pq, pout, 4, 296);
                    assertArrayEquals(prefillRef, pout.toArray(ValueLayout.JAVA_FLOAT));
                    assertEquals(reportBytes, cache.memoryReport().quantizedBytes());
                    assertFalse(cache.isFailed());
                } finally {
                    release.countDown();
                }
                reader.join();
                holder.join();
                assertNull(error.get(), "the held attend completes");
                assertArrayEquals(ref, heldOut.toArray(ValueLayout.JAVA_FLOAT), "the held attend's output is exact");
                assertEquals(300, cache.tokenCount(0), "the refused append changed nothing");
                assertFalse(cache.isProtected(1000));
                held.close();
                cache.close();
                assertEquals(0, pool.pagesInUse());
            }
        });
    }

    // --- close racing with use ---------------------------------------------------------------------

    @Test
    void closeWhileAnotherThreadAppendsAndAttendsEitherWaitsItsTurnOrThrowsAndNeverLeaks() {
        assertTimeoutPreemptively(WATCHDOG, () -> {
            int rounds = 20;
            SplittableRandom rnd = TestSeeds.random(1208);
            try (Arena arena = Arena.ofShared(); PagePool pool = new PagePool(8192, 4000)) {
                MemorySegment k = KvData.keys(arena, rnd, 400, 2, 64), v = KvData.values(arena, rnd, 400, 2, 64);
                MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.4);
                Tally user = new Tally(), closer = new Tally();
                AtomicInteger closedMidway = new AtomicInteger();
                for (int r = 0; r < rounds; r++) {
                    KvCache cache = KvCache.create(SHAPE, config(), pool, null);
                    DecodeAttention attn = new DecodeAttention(cache, null);
                    cache.append(0, tokens(k, 0, 200), tokens(v, 0, 200), 200, InputType.F32);
                    cache.append(1, tokens(k, 0, 200), tokens(v, 0, 200), 200, InputType.F32);
                    long delay = rnd.nextLong(TimeUnit.MILLISECONDS.toNanos(3));
                    CyclicBarrier start = new CyclicBarrier(2);
                    MemorySegment out = arena.allocate(OUT_BYTES);
                    int round = r;
                    runTwo(user, () -> {
                        await(start);
                        for (int t = 200; t < 400; t++) {
                            try {
                                cache.append(t % 2, tokens(k, t, 1), tokens(v, t, 1), 1, InputType.F32);
                                attn.attend(t % 2, q, out);
                                user.exact.incrementAndGet();
                            } catch (IllegalStateException e) {
                                if ("KvCache is closed".equals(e.getMessage())) {
                                    user.refused.incrementAndGet();
                                    closedMidway.incrementAndGet();
                                    return;
                                }
                                user.refusal(e, "KvCache is being closed by another thread", true);
                            }
                            LockSupport.parkNanos(20_000); // a decode loop's gap between steps, where a close can land
                        }
                    }, () -> {
                        await(start);
                        LockSupport.parkNanos(delay);
                        while (true) { // a refused close changes nothing: retry until the other thread's call returned
                            try {
                                cache.close();
                                closer.exact.incrementAndGet();
                                return;
                            } catch (IllegalStateException e) {
                                closer.refusal(e, "KvCache is being", true);
                                Thread.yield();
                            }
                        }
                    });
                    assertTrue(cache.isClosed(), "round " + round);
                    assertFalse(cache.isFailed());
                    assertEquals(0, pool.pagesInUse(), "round " + round + ": close returned every page");
                    assertRefused("KvCache is closed", () -> attn.attend(0, q, out));
                    attn.close();
                }
                user.assertClean("append and attend while another thread closes, " + rounds + " rounds (closed midway in "
                        + closedMidway + ")", -1);
                closer.assertClean("close while another thread appends and attends, " + rounds + " rounds", -1);
                assertEquals(rounds, closer.exact.get());
            }
        });
    }

    // --- closed collaborators, idempotent close, use after close -----------------------------------
}
