package io.vidkv.kernel;

import io.vidkv.CacheConfig;
import io.vidkv.KvCache;
import io.vidkv.ModelShape;
import io.vidkv.ParallelRunner;
import io.vidkv.testing.CacheFill;
import io.vidkv.testing.KvData;
import io.vidkv.testing.TestConfigs;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The two {@link KernelMath} bodies perform the same IEEE operations lane by lane, and the work split
 * does not depend on the thread count: {@link ScalarKernelMath} and {@link PanamaKernelMath}, each on
 * 1 and 2 threads, must give bit-identical outputs for every layout family, 1 to 12 query heads
 * per KV head (one or two lane groups), and full or causally masked attention. Exact equality, no
 * tolerance: any difference is a divergence between the bodies or a thread-dependent reduction.
 */
class KernelBodiesTest {

    @ParameterizedTest(name = "{0} tokens={1} d={2} gq={3} kv={4}")
    @CsvSource({
            "vidkv-1.5/1.58, 1500, 128, 7, 2",
            "vidkv-1.5/1.58+kb=1.3+R=0, 1100, 64, 12, 1",
            "vidkv-1.5/1.58+pergroup+planes, 700, 96, 9, 1",
            "vidkv-1.5/1.58+flat+G=24, 500, 64, 3, 2",
            "vidkv-1.5/1.66-stp, 1300, 64, 8, 1",
            "vidkv-1.75/1.66-stp+planes+G=16, 600, 128, 10, 1",
            "vidkv-1.5/1.58-compact, 1200, 64, 1, 2",
            "vidkv-1.5/2, 900, 96, 5, 1",
            "kivi-2, 1100, 64, 11, 1",
            "vidkv-2+k=3:ch+v=4:ch+G=40, 800, 64, 2, 1",
            "vidkv-2+k=8:ch+v=1:ch+compact+G=8, 600, 64, 6, 1",
            "fp16, 1500, 128, 4, 2",
            "vidkv-reference-1.5/1.58, 700, 64, 2, 1"})
    void bodiesAndThreadCountsGiveIdenticalBits(String spec, int tokens, int d, int gq, int kvHeads) {
        assumeTrue(PanamaKernelMath.available(), "no 256-bit vectors on this platform");
        ModelShape shape = new ModelShape(1, gq * kvHeads, kvHeads, d);
        CacheConfig config = CacheConfig.uniform(shape, TestConfigs.layer(spec)).withCapacity(4096);
        SplittableRandom rnd = TestSeeds.random(spec.hashCode(), tokens, d, gq, kvHeads);
        try (Arena arena = Arena.ofConfined();
             ParallelRunner runner = new ParallelRunner(2);
             KvCache cache = KvCache.create(shape, config, runner)) {
            CacheFill.fill(cache, arena, rnd, tokens, CacheFill.Scale.NORMAL);
            MemorySegment q = KvData.queries(arena, rnd, shape, 0.5);
            for (int lastVisible : new int[]{Integer.MAX_VALUE, rnd.nextInt(tokens)}) {
                int[] first = null;
                String firstName = null;
                for (KernelMath math : new KernelMath[]{new ScalarKernelMath(), new PanamaKernelMath()}) {
                    for (ParallelRunner r : new ParallelRunner[]{null, runner}) {
                        String name = math.name() + (r == null ? " on 1 thread" : " on 2 threads");
                        int[] bits = attendBits(cache, r, math, q, lastVisible, arena);
                        if (first == null) {
                            first = bits;
                            firstName = name;
                        } else if (!Arrays.equals(first, bits)) {
                            int i = Arrays.mismatch(first, bits);
                            throw new AssertionError(spec + " lastVisible " + lastVisible + ": " + name + " differs from "
                                    + firstName + " at output " + i + ": " + Float.intBitsToFloat(bits[i]) + " vs "
                                    + Float.intBitsToFloat(first[i]) + TestSeeds.replay());
                        }
                    }
                }
            }
        }
    }

    /** The build runs the suite twice, the second time with -Dvidkv.vector=false: that run must get the plain-Java body. */
    @Test
    void providerHonoursTheVectorProperty() {
        if (!Boolean.parseBoolean(System.getProperty("vidkv.vector", "true"))) {
            assertInstanceOf(ScalarKernelMath.class, KernelProvider.MATH);
        } else if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent() && PanamaKernelMath.available()) {
            assertInstanceOf(PanamaKernelMath.class, KernelProvider.MATH);
        } else {
            assertInstanceOf(ScalarKernelMath.class, KernelProvider.MATH);
        }
    }

    private static int[] attendBits(KvCache cache, ParallelRunner runner, KernelMath math, MemorySegment q, int lastVisible,
                                    Arena arena) {
        MemorySegment out = arena.allocate((long) cache.shape().queryHeads() * cache.shape().headDim() * 4);
        try (DecodeAttention attn = new DecodeAttention(cache, runner, math)) {
            attn.attend(0, q, out, lastVisible);
        }
        return out.toArray(ValueLayout.JAVA_INT);
    }
}
