package io.vidkv;

import io.vidkv.kernel.DecodeAttention;
import io.vidkv.nativelib.Dnnl;
import io.vidkv.nativelib.DnnlDataType;
import io.vidkv.nativelib.Fftw;
import io.vidkv.nativelib.MatmulShape;
import io.vidkv.nativelib.RealFftPlan;
import io.vidkv.testing.KvData;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/** Many sequences on one pool from several threads, with random early closes; native caches under concurrent first use. */
class ConcurrencyTest {

    private static final ModelShape SHAPE = new ModelShape(2, 4, 2, 64);

    /** Runs one sequence: prefill, then decode steps; returns the last attention output, or null if closed early. */
    private static float[] sequence(int id, PagePool pool, MemorySegment k, MemorySegment v, MemorySegment q, Preset preset,
                                    boolean closeEarly) {
        // every third sequence keeps only its newest 300 tokens, so it evicts pages while the others grow
        CacheConfig config = CacheConfig.of(SHAPE, preset).withPageBytes(8192)
                .withCapacity(id % 3 == 2 ? CapacityPolicy.evictOldest(300) : new CapacityPolicy(1024));
        long tok = (long) SHAPE.tokenElements() * 4;
        int prefill = 200 + 7 * (id % 13);
        try (Arena arena = Arena.ofConfined();
             KvCache cache = KvCache.create(SHAPE, config, pool, null);
             DecodeAttention attn = new DecodeAttention(cache, null)) {
            MemorySegment out = arena.allocate(4L * SHAPE.queryHeads() * SHAPE.headDim());
            for (int l = 0; l < 2; l++) {
                cache.append(l, k, v, prefill, InputType.F32);
            }
            for (int s = 0; s < 40; s++) {
                if (closeEarly && s == 20) {
                    return null; // the try-with-resources closes the sequence mid-decode
                }
                for (int l = 0; l < 2; l++) {
                    cache.append(l, k.asSlice((prefill + s) * tok, tok), v.asSlice((prefill + s) * tok, tok), 1, InputType.F32);
                    attn.attend(l, q, out);
                }
            }
            if (id % 3 == 2 && prefill + 40 > 300) {
                assertTrue(cache.firstRetainedToken(1) > 0, "sequence " + id + " should have evicted");
            }
            return out.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    @Test
    void sixtyFourSequencesConcurrentlyEqualSerialAndReturnAllPages() {
        assertTimeoutPreemptively(Duration.ofSeconds(180), () -> {
            SplittableRandom rnd = TestSeeds.random(71);
            try (Arena arena = Arena.ofShared(); PagePool pool = new PagePool(8192, 20_000)) {
                MemorySegment k = KvData.keys(arena, rnd, 400, 2, 64), v = KvData.values(arena, rnd, 400, 2, 64);
                MemorySegment q = KvData.queries(arena, rnd, SHAPE, 0.4);
                Preset[] presets = {Preset.VIDKV_15_158, Preset.FP16, Preset.KIVI_2, Preset.VIDKV_15_166_STP};
                int n = 64;
                float[][] serial = new float[n][];
                for (int i = 0; i < n; i++) {
                    serial[i] = sequence(i, pool, k, v, q, presets[i % presets.length], false);
                }
                assertEquals(0, pool.pagesInUse());
                ExecutorService exec = Executors.newFixedThreadPool(4);
                try {
                    List<Future<float[]>> fs = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        int id = i;
                        boolean early = i % 5 == 3;
                        fs.add(exec.submit(() -> sequence(id, pool, k, v, q, presets[id % presets.length], early)));
                    }
                    for (int i = 0; i < n; i++) {
                        float[] got = fs.get(i).get(120, TimeUnit.SECONDS);
                        if (i % 5 != 3) {
                            assertArrayEquals(serial[i], got, "sequence " + i + " differs from its serial run");
                        }
                    }
                } finally {
                    exec.shutdownNow();
                }
                assertEquals(0, pool.pagesInUse(), "every page must return to the pool");
            }
        });
    }

    @Test
    void fftwPlanningAndExecutionUnderConcurrentFirstUse() throws Exception {
        try (Fftw fftw = Fftw.create(Fftw.Rigor.ESTIMATE); Arena arena = Arena.ofShared()) {
            ExecutorService exec = Executors.newFixedThreadPool(6);
            try {
                List<Future<RealFftPlan>> fs = new ArrayList<>();
                for (int i = 0; i < 24; i++) {
                    int n = 16 + 8 * (i % 4);
                    fs.add(exec.submit(() -> {
                        RealFftPlan p = fftw.forward(n, 32);
                        MemorySegment in = Fftw.allocate(arena, (long) n * 32), out = Fftw.allocate(arena, 2L * (n / 2 + 1) * 32);
                        p.execute(in, out);
                        return p;
                    }));
                }
                for (int i = 0; i < 24; i++) {
                    assertSame(fs.get(i % 4).get(60, TimeUnit.SECONDS), fs.get(i).get(60, TimeUnit.SECONDS), "one plan per shape");
                }
                assertEquals(4, fftw.planCount());
            } finally {
                exec.shutdownNow();
            }
        }
    }

    @Test
    void dnnlPrimitiveCacheUnderConcurrentFirstUse() throws Exception {
        try (Dnnl dnnl = Dnnl.create()) {
            ExecutorService exec = Executors.newFixedThreadPool(6);
            try {
                List<Future<Object>> fs = new ArrayList<>();
                for (int i = 0; i < 24; i++) {
                    int m = 8 + (i % 3);
                    fs.add(exec.submit(() -> dnnl.matmul(MatmulShape.of(m, 32, 16, DnnlDataType.F32, false, true))));
                }
                for (int i = 0; i < 24; i++) {
                    assertSame(fs.get(i % 3).get(60, TimeUnit.SECONDS), fs.get(i).get(60, TimeUnit.SECONDS), "one primitive per shape");
                }
                assertEquals(3, dnnl.cachedPrimitiveCount());
            } finally {
                exec.shutdownNow();
            }
        }
    }
}
