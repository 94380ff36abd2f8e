package io.vidkv.nativelib;

import io.vidkv.testing.Float64Reference;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * oneDNN matmul against a float64 reference. Tolerance for f32: |error| <= 1e-5 x sum_k |a_ik b_kj|
 * (float32 accumulation of k products, k <= 300, with margin); bf16 inputs are rounded to bf16 in
 * the reference too, so the same bound applies to the f32 accumulation.
 */
class DnnlTest {

    private static final double TOL = 1e-5;
    private static Dnnl dnnl;

    @BeforeAll
    static void open() {
        dnnl = Dnnl.create();
    }

    @AfterAll
    static void close() {
        dnnl.close();
    }

    @ParameterizedTest(name = "{0}x{1}x{2} tA={3} tB={4} pad={5} alpha={6} beta={7}")
    @CsvSource({
            "1,1,1,false,false,0,1,0",
            "3,5,7,false,false,0,1,0",
            "64,128,200,false,true,0,1,0",
            "257,64,33,true,false,0,1,0",
            "17,31,9,true,true,0,1,0",
            "40,128,100,false,true,7,0.0883883,0",
            "8,16,300,false,false,3,1,1",
            "12,300,5,false,true,0,-2.5,0.5",
            "48,1,64,false,false,127,1,1"})
    void f32MatchesFloat64(int m, int k, int n, boolean tA, boolean tB, int pad, float alpha, float beta) {
        SplittableRandom rnd = TestSeeds.random(m, k, n, tA ? 1 : 0, tB ? 1 : 0, pad);
        MatmulShape base = MatmulShape.of(m, k, n, DnnlDataType.F32, tA, tB);
        // Leading dimensions larger than the matrix: a tile of a larger buffer, used in place.
        MatmulShape s = new MatmulShape(m, k, n, DnnlDataType.F32, DnnlDataType.F32, DnnlDataType.F32, tA, tB,
                base.lda() + pad, base.ldb() + pad, base.ldc() + pad, alpha, beta);
        runAndCheck(s, rnd, false);
    }

    @ParameterizedTest(name = "{0}x{1}x{2} tB={3}")
    @CsvSource({"16,32,16,false", "33,128,70,true", "256,64,128,false"})
    void bf16MatchesFloat64WhereSupported(int m, int k, int n, boolean tB) {
        Assumptions.assumeTrue(dnnl.supportsBf16Matmul(), "oneDNN has no bf16 matmul kernel for this CPU ("
                + Dnnl.cpuIsa() + "); bf16 needs AVX512-BF16, AVX2-VNNI-2 or AMX");
        runAndCheck(MatmulShape.of(m, k, n, DnnlDataType.BF16, false, tB), TestSeeds.random(m, k, n, 77), true);
    }

    /** Vector operands: dense ones are computed right; the strided ones oneDNN 3.8.1 gets wrong are refused. */
    @Test
    void vectorOperands() {
        SplittableRandom rnd = TestSeeds.random(77);
        for (MatmulShape s : new MatmulShape[]{
                new MatmulShape(48, 64, 1, DnnlDataType.F32, DnnlDataType.F32, DnnlDataType.F32, false, true, 128, 128, 1, 0.125f, 0f),
                new MatmulShape(48, 64, 1, DnnlDataType.F32, DnnlDataType.F32, DnnlDataType.F32, false, false, 64, 10, 1, 1f, 0f),
                new MatmulShape(1, 64, 48, DnnlDataType.F32, DnnlDataType.F32, DnnlDataType.F32, true, false, 1, 48, 48, 1f, 0f),
                new MatmulShape(1, 64, 48, DnnlDataType.F32, DnnlDataType.F32, DnnlDataType.F32, false, false, 70, 48, 53, 1f, 1f)}) {
            runAndCheck(s, rnd, false);
        }
        assertThrows(IllegalArgumentException.class, () -> new MatmulShape(48, 64, 1, DnnlDataType.F32, DnnlDataType.F32,
                DnnlDataType.F32, false, true, 64, 64, 65, 1f, 0f));
        assertThrows(IllegalArgumentException.class, () -> new MatmulShape(1, 64, 48, DnnlDataType.F32, DnnlDataType.F32,
                DnnlDataType.F32, true, false, 6, 48, 48, 1f, 0f));
    }

    @Test
    void unsupportedBf16ReportsTheStatusName() {
        Assumptions.assumeFalse(dnnl.supportsBf16Matmul(), "bf16 is supported here");
        DnnlException e = assertThrows(DnnlException.class,
                () -> dnnl.matmul(MatmulShape.of(8, 8, 8, DnnlDataType.BF16, false, false)));
        assertEquals("dnnl_unimplemented", e.statusName());
        assertTrue(e.getMessage().contains("dnnl_matmul_primitive_desc_create") && e.getMessage().contains("BF16"), e.getMessage());
    }

    @Test
    void reorderF32ToBf16RoundsToNearestEven() {
        int count = 1000;
        SplittableRandom rnd = TestSeeds.random(count, 5);
        Reorder r;
        try {
            r = dnnl.reorder(DnnlDataType.F32, DnnlDataType.BF16, count);
        } catch (DnnlException e) {
            Assumptions.abort("oneDNN has no f32->bf16 reorder here: " + e.getMessage());
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(4L * count, 64);
            MemorySegment dst = arena.allocate(2L * count, 64);
            for (int i = 0; i < count; i++) {
                src.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (rnd.nextGaussian() * Math.exp(rnd.nextDouble(-20, 20))));
            }
            r.execute(src, dst);
            for (int i = 0; i < count; i++) {
                float f = src.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                float got = Float.intBitsToFloat((dst.getAtIndex(ValueLayout.JAVA_SHORT, i) & 0xFFFF) << 16);
                assertEquals(Float64Reference.toBf16(f), got, "element " + i + " = " + f + TestSeeds.replay());
            }
        }
    }

    @Test
    void primitivesAreCachedPerShape() {
        MatmulShape s = MatmulShape.f32(4, 8, 16);
        assertSame(dnnl.matmul(s), dnnl.matmul(MatmulShape.f32(4, 8, 16)));
        assertTrue(dnnl.matmul(s) != dnnl.matmul(s.withScale(0.5f, 0f)));
    }

    @Test
    void concurrentExecutionEqualsSerial() throws Exception {
        int threads = 4, rounds = 30;
        MatmulShape s = MatmulShape.of(64, 128, 96, DnnlDataType.F32, false, true);
        Matmul mm = dnnl.matmul(s);
        try (Arena arena = Arena.ofShared()) {
            List<MemorySegment[]> operands = new ArrayList<>();
            List<float[]> serial = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                SplittableRandom rnd = TestSeeds.random(t, 9);
                MemorySegment a = fill(arena, s.bytesA() / 4, rnd);
                MemorySegment b = fill(arena, s.bytesB() / 4, rnd);
                MemorySegment c = arena.allocate(s.bytesC(), 64);
                mm.execute(a, b, c);
                operands.add(new MemorySegment[]{a, b});
                serial.add(c.toArray(ValueLayout.JAVA_FLOAT));
            }
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<Boolean>> results = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int id = t;
                    results.add(pool.submit(() -> {
                        MemorySegment c = arena.allocate(s.bytesC(), 64);
                        for (int r = 0; r < rounds; r++) {
                            mm.execute(operands.get(id)[0], operands.get(id)[1], c);
                            if (!Arrays.equals(serial.get(id), c.toArray(ValueLayout.JAVA_FLOAT))) {
                                return false;
                            }
                        }
                        return true;
                    }));
                }
                for (Future<Boolean> f : results) {
                    assertTrue(f.get(60, TimeUnit.SECONDS), "concurrent matmul differs from serial");
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void badShapesAndSegmentsAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MatmulShape.f32(0, 4, 4));
        assertTrue(e.getMessage().contains("m must be positive"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new MatmulShape(4, 8, 4, DnnlDataType.F32,
                DnnlDataType.F32, DnnlDataType.F32, false, false, 7, 4, 4, 1f, 0f));
        assertTrue(e.getMessage().contains("lda 7 < 8"), e.getMessage());
        Matmul mm = dnnl.matmul(MatmulShape.f32(4, 8, 4));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(4 * 32), b = arena.allocate(4 * 32), c = arena.allocate(4 * 16);
            e = assertThrows(IllegalArgumentException.class, () -> mm.execute(a.asSlice(0, 100), b, c));
            assertTrue(e.getMessage().contains("matmul A segment has 100 bytes, needs 128"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> mm.execute(a, b, MemorySegment.ofArray(new float[16])));
            assertTrue(e.getMessage().contains("native"), e.getMessage());
        }
    }

    @Test
    void useAfterCloseThrows() {
        Dnnl own = Dnnl.create();
        Matmul mm = own.matmul(MatmulShape.f32(2, 2, 2));
        own.close();
        own.close();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocate(16);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> mm.execute(x, x, arena.allocate(16)));
            assertTrue(e.getMessage().contains("Dnnl is closed"), e.getMessage());
        }
        assertThrows(IllegalStateException.class, () -> own.matmul(MatmulShape.f32(2, 2, 2)));
    }

    private static void runAndCheck(MatmulShape s, SplittableRandom rnd, boolean bf16) {
        try (Arena arena = Arena.ofConfined()) {
            int m = s.m(), k = s.k(), n = s.n();
            double[][] a = new double[m][k];
            double[][] b = new double[k][n];
            MemorySegment segA = arena.allocate(s.bytesA(), 64);
            MemorySegment segB = arena.allocate(s.bytesB(), 64);
            MemorySegment segC = arena.allocate(s.bytesC(), 64);
            for (int i = 0; i < m; i++) {
                for (int t = 0; t < k; t++) {
                    a[i][t] = put(segA, s.transposeA() ? (long) t * s.lda() + i : (long) i * s.lda() + t, rnd, bf16);
                }
            }
            for (int t = 0; t < k; t++) {
                for (int j = 0; j < n; j++) {
                    b[t][j] = put(segB, s.transposeB() ? (long) j * s.ldb() + t : (long) t * s.ldb() + j, rnd, bf16);
                }
            }
            double[][] c0 = new double[m][n];
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    c0[i][j] = (float) rnd.nextGaussian();
                    segC.setAtIndex(ValueLayout.JAVA_FLOAT, (long) i * s.ldc() + j, (float) c0[i][j]);
                }
            }
            dnnl.matmul(s).execute(segA, segB, segC);
            double[][] ref = Float64Reference.matmul(a, b);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double mag = 0;
                    for (int t = 0; t < k; t++) {
                        mag += Math.abs(a[i][t] * b[t][j]);
                    }
                    double want = s.alpha() * ref[i][j] + s.beta() * c0[i][j];
                    double bound = TOL * (Math.abs(s.alpha()) * mag + Math.abs(s.beta() * c0[i][j])) + 1e-30;
                    assertEquals(want, segC.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * s.ldc() + j), bound,
                            s + " at (" + i + "," + j + ")" + TestSeeds.replay());
                }
            }
        }
    }

    private static double put(MemorySegment seg, long index, SplittableRandom rnd, boolean bf16) {
        float v = (float) rnd.nextGaussian();
        if (bf16) {
            v = Float64Reference.toBf16(v);
            seg.setAtIndex(ValueLayout.JAVA_SHORT, index, (short) (Float.floatToRawIntBits(v) >>> 16));
        } else {
            seg.setAtIndex(ValueLayout.JAVA_FLOAT, index, v);
        }
        return v;
    }

    private static MemorySegment fill(Arena arena, long floats, SplittableRandom rnd) {
        MemorySegment s = arena.allocate(floats * 4, 64);
        for (long i = 0; i < floats; i++) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
        }
        return s;
    }
}
