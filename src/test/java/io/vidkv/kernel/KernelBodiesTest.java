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

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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

    /**
     * The prefill tile kernels and softmax row pass: random code bytes (any bit pattern, base-3 bytes
     * below 243), scales and scores through both bodies, compared bit for bit; the exp pass on rows
     * of every length 1..80 around the shift, including scores above it (where it must stop at the
     * same group).
     */
    @Test
    void prefillTileKernelsGiveIdenticalBits() {
        assumeTrue(PanamaKernelMath.available() && ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent());
        KernelMath scalar = new ScalarKernelMath(), vector = new PanamaKernelMath();
        SplittableRandom rnd = TestSeeds.random(20261201);
        try (Arena arena = Arena.ofConfined()) {
            for (int d : new int[]{64, 96, 128}) {
                MemorySegment codes = arena.allocate(8L * d * 8 + 64);
                MemorySegment t1 = arena.allocate(4L * 32 * d), t2 = arena.allocate(4L * 32 * d);
                float[] scales = new float[d], zeros = new float[d];
                for (int round = 0; round < 20; round++) {
                    for (long i = 0; i < codes.byteSize(); i++) {
                        codes.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(256));
                    }
                    for (int c = 0; c < d; c++) {
                        scales[c] = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(-3, 4)));
                        zeros[c] = (float) rnd.nextGaussian();
                    }
                    int a = rnd.nextInt(d + 1);
                    scalar.vidkvKeyTile32(codes, 0, a, d - a, scales, zeros, new int[d + a], t1, 0, d);
                    vector.vidkvKeyTile32(codes, 0, a, d - a, scales, zeros, new int[d + a], t2, 0, d);
                    assertArrayEquals(t1.toArray(ValueLayout.JAVA_INT), t2.toArray(ValueLayout.JAVA_INT), "key tile d " + d + " a " + a);
                    for (int c = 0; c < 6 * d; c++) { // base-3 bytes are below 243
                        codes.set(ValueLayout.JAVA_BYTE, c, (byte) rnd.nextInt(243));
                    }
                    for (int c = 0; c < d / 2; c++) { // 2-trit tails are below 9
                        codes.set(ValueLayout.JAVA_BYTE, 6L * d + c, (byte) (rnd.nextInt(9) | rnd.nextInt(9) << 4));
                    }
                    scalar.ternaryTile32(codes, 0, 6L * d, scales, new int[7 * d], t1, 0, d);
                    vector.ternaryTile32(codes, 0, 6L * d, scales, new int[7 * d], t2, 0, d);
                    assertArrayEquals(t1.toArray(ValueLayout.JAVA_INT), t2.toArray(ValueLayout.JAVA_INT), "ternary tile d " + d);
                }
            }
            MemorySegment row1 = arena.allocate(4L * 80), row2 = arena.allocate(4L * 80);
            for (int n = 1; n <= 80; n++) {
                for (int round = 0; round < 5; round++) {
                    float shift = (float) rnd.nextGaussian() * 3;
                    for (int i = 0; i < n; i++) {
                        float x = shift - (float) Math.abs(rnd.nextGaussian() * 30) + (rnd.nextInt(40) == 0 ? 5f : 0f);
                        row1.setAtIndex(ValueLayout.JAVA_FLOAT, i, x);
                        row2.setAtIndex(ValueLayout.JAVA_FLOAT, i, x);
                    }
                    float[] p1 = new float[16], p2 = new float[16];
                    int whole = n & -16;
                    int s1 = scalar.tileRowExp(row1, 0, 0, whole, shift, p1), s2 = vector.tileRowExp(row2, 0, 0, whole, shift, p2);
                    assertEquals(s1, s2, "stop of n " + n);
                    assertArrayEquals(p1, p2, "partial sums of n " + n);
                    assertArrayEquals(row1.toArray(ValueLayout.JAVA_INT), row2.toArray(ValueLayout.JAVA_INT), "weights of n " + n);
                    assertEquals(scalar.tileRowMax(row1, 0, n), vector.tileRowMax(row2, 0, n), "max of n " + n);
                    scalar.tileRowScale(row1, 0, n, 0.37f);
                    vector.tileRowScale(row2, 0, n, 0.37f);
                    assertArrayEquals(row1.toArray(ValueLayout.JAVA_INT), row2.toArray(ValueLayout.JAVA_INT), "scaled n " + n);
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
