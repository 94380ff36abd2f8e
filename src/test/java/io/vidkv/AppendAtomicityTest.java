package io.vidkv;

import io.vidkv.testing.KvData;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A prefill interrupted while it runs: every append is entirely in the cache or not at all, and
 * input memory freed during an append never leaves a half-written sequence in service.
 */
class AppendAtomicityTest {

    private static final ModelShape SHAPE = new ModelShape(3, 8, 4, 128);
    private static final int TOKENS = 3000;
    private static final int CHUNK = 500;

    private static MemorySegment slice(MemorySegment seg, int fromToken, int tokens) {
        long per = (long) SHAPE.tokenElements() * 4;
        return seg.asSlice(fromToken * per, tokens * per);
    }

    @Test
    void anInterruptedPrefillHoldsWholeAppendsOnly() throws Exception {
        SplittableRandom rnd = TestSeeds.random(71);
        CacheConfig config = CacheConfig.of(SHAPE, Preset.VIDKV_15_158).withCapacity(8192);
        try (Arena arena = Arena.ofShared(); ParallelRunner runner = new ParallelRunner(2);
             KvCache reference = KvCache.create(SHAPE, config)) {
            MemorySegment k = KvData.keys(arena, rnd, TOKENS, 4, 128);
            MemorySegment v = KvData.values(arena, rnd, TOKENS, 4, 128);
            for (int l = 0; l < SHAPE.layers(); l++) {
                for (int t = 0; t < TOKENS; t += CHUNK) {
                    reference.append(l, slice(k, t, CHUNK), slice(v, t, CHUNK), CHUNK, InputType.F32);
                }
            }
            long serialNanos;
            {
                long s = System.nanoTime();
                try (KvCache warm = KvCache.create(SHAPE, config, runner)) {
                    for (int l = 0; l < SHAPE.layers(); l++) {
                        warm.append(l, k, v, TOKENS, InputType.F32);
                    }
                }
                serialNanos = System.nanoTime() - s;
            }
            for (int attempt = 0; attempt < 6; attempt++) {
                long delay = rnd.nextLong(serialNanos);
                try (KvCache cache = KvCache.create(SHAPE, config, runner)) {
                    AtomicReference<Throwable> error = new AtomicReference<>();
                    AtomicBoolean flagSeen = new AtomicBoolean();
                    int[] appended = new int[SHAPE.layers()];
                    CountDownLatch started = new CountDownLatch(1);
                    // The caller's prefill loop: one append per (layer, chunk), it stops between appends once interrupted.
                    Thread prefill = Thread.ofPlatform().start(() -> {
                        started.countDown();
                        try {
                            outer:
                            for (int l = 0; l < SHAPE.layers(); l++) {
                                for (int t = 0; t < TOKENS; t += CHUNK) {
                                    if (Thread.currentThread().isInterrupted()) {
                                        flagSeen.set(true);
                                        break outer;
                                    }
                                    cache.append(l, slice(k, t, CHUNK), slice(v, t, CHUNK), CHUNK, InputType.F32);
                                    appended[l] += CHUNK;
                                }
                            }
                        } catch (Throwable e) {
                            error.set(e);
                        }
                    });
                    started.await();
                    LockSupport.parkNanos(delay);
                    prefill.interrupt();
                    prefill.join(TimeUnit.MINUTES.toMillis(2));
                    assertFalse(prefill.isAlive(), "prefill hung after an interrupt");
                    assertEquals(null, error.get(), "an interrupt must not fail an append");
                    for (int l = 0; l < SHAPE.layers(); l++) {
                        assertEquals(appended[l], cache.tokenCount(l), "layer " + l + " holds exactly its completed appends");
                        assertEquals(0, cache.tokenCount(l) % CHUNK, "no partial append in layer " + l);
                        if (cache.tokenCount(l) == TOKENS) {
                            for (int h = 0; h < SHAPE.kvHeads(); h++) {
                                assertArrayEquals(flatten(KvData.dequantize(reference, l, h)), flatten(KvData.dequantize(cache, l, h)),
                                        "layer " + l + " head " + h + " equals the uninterrupted prefill");
                            }
                        }
                    }
                    // Either the loop saw the flag (interrupted in time) or it had finished everything.
                    assertTrue(flagSeen.get() || appended[SHAPE.layers() - 1] == TOKENS);
                }
            }
        }
    }

    private static double[] flatten(double[][][] kv) {
        int rows = kv[0].length, d = rows == 0 ? 0 : kv[0][0].length;
        double[] out = new double[2 * rows * d];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(kv[0][i], 0, out, i * d, d);
            System.arraycopy(kv[1][i], 0, out, (rows + i) * d, d);
        }
        return out;
    }

    @Test
    void inputFreedDuringAnAppendNeverLeavesAHalfWrittenSequenceInService() throws Exception {
        SplittableRandom rnd = TestSeeds.random(72);
        CacheConfig config = CacheConfig.of(SHAPE, Preset.VIDKV_15_158).withCapacity(8192);
        int completed = 0, rejectedUnchanged = 0, failedClosed = 0;
        try (PagePool pool = new PagePool(config.pageBytes(), 4096); Arena data = Arena.ofConfined()) {
            MemorySegment k0 = KvData.keys(data, rnd, TOKENS, 4, 128);
            MemorySegment v0 = KvData.values(data, rnd, TOKENS, 4, 128);
            long appendNanos;
            byte[] full;
            try (KvCache warm = KvCache.create(SHAPE, config, pool, null)) {
                warm.append(0, k0, v0, CHUNK, InputType.F32);
                long s = System.nanoTime();
                warm.append(0, slice(k0, CHUNK, TOKENS - CHUNK), slice(v0, CHUNK, TOKENS - CHUNK), TOKENS - CHUNK, InputType.F32);
                appendNanos = System.nanoTime() - s;
                full = KvCacheTest.snapshot(warm);
            }
            for (int attempt = 0; attempt < 24; attempt++) {
                KvCache cache = KvCache.create(SHAPE, config, pool, null);
                cache.append(0, k0, v0, CHUNK, InputType.F32);
                byte[] before = KvCacheTest.snapshot(cache);
                Arena input = Arena.ofShared();
                MemorySegment k = input.allocate(k0.byteSize() - CHUNK * (long) SHAPE.tokenElements() * 4);
                MemorySegment v = input.allocate(k.byteSize());
                k.copyFrom(slice(k0, CHUNK, TOKENS - CHUNK));
                v.copyFrom(slice(v0, CHUNK, TOKENS - CHUNK));
                AtomicReference<Throwable> error = new AtomicReference<>();
                Thread appender = Thread.ofPlatform().start(() -> {
                    try {
                        cache.append(0, k, v, TOKENS - CHUNK, InputType.F32);
                    } catch (Throwable e) {
                        error.set(e);
                    }
                });
                LockSupport.parkNanos(rnd.nextLong(appendNanos + 1));
                input.close(); // the caller frees the input while the append may still read it
                appender.join(TimeUnit.MINUTES.toMillis(2));
                assertFalse(appender.isAlive(), "append hung");
                Throwable e = error.get();
                if (e == null) {
                    completed++;
                    assertArrayEquals(full, KvCacheTest.snapshot(cache), "a completed append holds all tokens");
                } else {
                    assertTrue(e instanceof IllegalStateException, "expected IllegalStateException, got " + e);
                    if (cache.isFailed()) {
                        failedClosed++;
                        IllegalStateException use = assertThrows(IllegalStateException.class, () -> cache.tokenCount(0));
                        assertTrue(use.getMessage().contains("unusable"), use.getMessage());
                    } else {
                        rejectedUnchanged++;
                        assertArrayEquals(before, KvCacheTest.snapshot(cache), "a rejected append changes nothing");
                    }
                }
                cache.close();
                assertEquals(0, pool.pagesInUse(), "every page returns to the pool, failed or not");
            }
        }
        assertEquals(24, completed + rejectedUnchanged + failedClosed);
        System.out.printf("input freed during append: %d completed, %d rejected unchanged, %d failed and closed%n",
                completed, rejectedUnchanged, failedClosed);
    }
}
