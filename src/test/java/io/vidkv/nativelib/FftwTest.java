package io.vidkv.nativelib;

import io.vidkv.testing.Float64Reference;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * FFTW r2c/c2r against the float64 DFT. Tolerance: each spectral component within
 * 1e-5 x (L1 norm of its input row), the float32 rounding bound of an O(n log n) FFT with margin;
 * round trips within 1e-5 x the row's max magnitude.
 */
class FftwTest {

    private static final double TOL = 1e-5;
    private static Fftw fftw;

    @BeforeAll
    static void open() {
        fftw = Fftw.create(Fftw.Rigor.ESTIMATE);
    }

    @AfterAll
    static void close() {
        fftw.close();
    }

    @ParameterizedTest(name = "n={0} batch={1}")
    @CsvSource({"1,1", "1,7", "2,3", "3,5", "7,4", "16,1", "16,33", "63,2", "64,32", "64,257", "127,3", "128,9"})
    void forwardMatchesFloat64Dft(int n, int batch) {
        SplittableRandom rnd = TestSeeds.random(n, batch, 1);
        int bins = n / 2 + 1;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = Fftw.allocate(arena, (long) n * batch);
            MemorySegment spec = Fftw.allocate(arena, 2L * bins * batch);
            double[][] rows = randomRows(rnd, batch, n, x);
            fftw.forward(n, batch).execute(x, spec);
            for (int b = 0; b < batch; b++) {
                double[] ref = Float64Reference.realDft(rows[b]);
                double l1 = l1(rows[b]);
                for (int i = 0; i < 2 * bins; i++) {
                    float got = spec.getAtIndex(ValueLayout.JAVA_FLOAT, 2L * bins * b + i);
                    assertEquals(ref[i], got, TOL * l1 + 1e-30,
                            "n=" + n + " row " + b + " component " + i + TestSeeds.replay());
                }
            }
        }
    }

    @ParameterizedTest(name = "n={0} batch={1}")
    @CsvSource({"1,2", "2,1", "5,3", "8,8", "33,2", "64,16", "128,4"})
    void inverseMatchesFloat64AndPreservesInput(int n, int batch) {
        SplittableRandom rnd = TestSeeds.random(n, batch, 2);
        int bins = n / 2 + 1;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment spec = Fftw.allocate(arena, 2L * bins * batch);
            MemorySegment x = Fftw.allocate(arena, (long) n * batch);
            double[][] spectra = randomRows(rnd, batch, 2 * bins, spec);
            float[] before = spec.toArray(ValueLayout.JAVA_FLOAT);
            fftw.inverse(n, batch).execute(spec, x);
            assertArrayEquals(before, spec.toArray(ValueLayout.JAVA_FLOAT), "c2r must preserve its input");
            for (int b = 0; b < batch; b++) {
                double[] ref = Float64Reference.inverseRealDft(spectra[b], n);
                double l1 = l1(spectra[b]) * 2;
                for (int t = 0; t < n; t++) {
                    assertEquals(ref[t], x.getAtIndex(ValueLayout.JAVA_FLOAT, (long) n * b + t), TOL * l1,
                            "n=" + n + " row " + b + " t " + t + TestSeeds.replay());
                }
            }
        }
    }

    @ParameterizedTest(name = "n={0} batch={1}")
    @CsvSource({"1,1", "3,9", "64,100", "96,5", "128,64"})
    void roundTripRecoversInput(int n, int batch) {
        SplittableRandom rnd = TestSeeds.random(n, batch, 3);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = Fftw.allocate(arena, (long) n * batch);
            MemorySegment spec = Fftw.allocate(arena, 2L * (n / 2 + 1) * batch);
            MemorySegment back = Fftw.allocate(arena, (long) n * batch);
            randomRows(rnd, batch, n, x);
            fftw.forward(n, batch).execute(x, spec);
            fftw.inverse(n, batch).execute(spec, back);
            for (long i = 0; i < (long) n * batch; i++) {
                float v = x.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                assertEquals(v, back.getAtIndex(ValueLayout.JAVA_FLOAT, i) / n, TOL * 8, "index " + i + TestSeeds.replay());
            }
        }
    }

    /** Transforms along columns of a [n, batch] matrix: stride = batch, distance = 1. */
    @Test
    void stridedColumnsMatchFloat64Dft() {
        int n = 16, batch = 6, bins = n / 2 + 1;
        SplittableRandom rnd = TestSeeds.random(4);
        RealFftPlan plan = fftw.plan(new RealFftPlan.Shape(RealFftPlan.Direction.FORWARD, n, batch, batch, 1, 1, bins));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = Fftw.allocate(arena, (long) n * batch);
            MemorySegment spec = Fftw.allocate(arena, 2L * bins * batch);
            double[][] m = randomRows(rnd, n, batch, x);
            plan.execute(x, spec);
            for (int col = 0; col < batch; col++) {
                double[] column = new double[n];
                for (int t = 0; t < n; t++) {
                    column[t] = m[t][col];
                }
                double[] ref = Float64Reference.realDft(column);
                for (int i = 0; i < 2 * bins; i++) {
                    assertEquals(ref[i], spec.getAtIndex(ValueLayout.JAVA_FLOAT, 2L * bins * col + i), TOL * l1(column));
                }
            }
        }
    }

    @Test
    void plansAreCachedPerShape() {
        assertSame(fftw.forward(64, 48), fftw.forward(64, 48));
        assertTrue(fftw.forward(64, 48) != fftw.inverse(64, 48));
    }

    @Test
    void concurrentExecutionOnOnePlanEqualsSerial() throws Exception {
        int n = 64, batch = 512, threads = 4, rounds = 50;
        RealFftPlan plan = fftw.forward(n, batch);
        try (Arena arena = Arena.ofShared()) {
            List<MemorySegment> inputs = new ArrayList<>();
            List<float[]> serial = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                MemorySegment x = Fftw.allocate(arena, (long) n * batch);
                randomRows(TestSeeds.random(5, t), batch, n, x);
                MemorySegment out = Fftw.allocate(arena, 2L * (n / 2 + 1) * batch);
                plan.execute(x, out);
                inputs.add(x);
                serial.add(out.toArray(ValueLayout.JAVA_FLOAT));
            }
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<Boolean>> results = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int id = t;
                    results.add(pool.submit(() -> {
                        MemorySegment out = Fftw.allocate(arena, 2L * (n / 2 + 1) * batch);
                        for (int r = 0; r < rounds; r++) {
                            plan.execute(inputs.get(id), out);
                            if (!java.util.Arrays.equals(serial.get(id), out.toArray(ValueLayout.JAVA_FLOAT))) {
                                return false;
                            }
                        }
                        return true;
                    }));
                }
                for (Future<Boolean> f : results) {
                    assertTrue(f.get(60, TimeUnit.SECONDS), "concurrent result differs from serial");
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void badShapesAndSegmentsAreRejectedBeforeAnyNativeCall() {
        String zero = assertThrows(IllegalArgumentException.class, () -> fftw.forward(0, 1)).getMessage();
        assertTrue(zero.contains("n must be positive"), zero);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> fftw.forward(8, -1));
        assertTrue(e.getMessage().contains("batch"), e.getMessage());
        RealFftPlan plan = fftw.forward(8, 2);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = Fftw.allocate(arena, 16);
            MemorySegment out = Fftw.allocate(arena, 2 * 5 * 2);
            e = assertThrows(IllegalArgumentException.class, () -> plan.execute(in.asSlice(0, 60), out));
            assertTrue(e.getMessage().contains("60 bytes") && e.getMessage().contains("needs 64"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> plan.execute(MemorySegment.ofArray(new float[16]), out));
            assertTrue(e.getMessage().contains("native"), e.getMessage());
            MemorySegment big = Fftw.allocate(arena, 64);
            e = assertThrows(IllegalArgumentException.class, () -> plan.execute(big.asSlice(4, 64), out));
            assertTrue(e.getMessage().contains("aligned"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> plan.execute(big, big.asSlice(32)));
            assertTrue(e.getMessage().contains("overlap"), e.getMessage());
        }
        Arena closed = Arena.ofConfined();
        MemorySegment gone = Fftw.allocate(closed, 16);
        closed.close();
        try (Arena arena = Arena.ofConfined()) {
            IllegalStateException s = assertThrows(IllegalStateException.class,
                    () -> plan.execute(gone, Fftw.allocate(arena, 20)));
            assertTrue(s.getMessage().contains("closed"), s.getMessage());
        }
    }

    @Test
    void useAfterCloseThrowsAndCloseWaitsForRunningExecutions() throws Exception {
        Fftw own = Fftw.create(Fftw.Rigor.ESTIMATE);
        RealFftPlan plan = own.forward(64, 1024);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment in = Fftw.allocate(arena, 64 * 1024);
            MemorySegment out = Fftw.allocate(arena, 2 * 33 * 1024);
            Thread worker = Thread.ofPlatform().start(() -> {
                try {
                    while (true) {
                        plan.execute(in, out);
                    }
                } catch (IllegalStateException expected) {
                    // the plan was closed between two executions, never during one
                }
            });
            Thread.sleep(50);
            own.close();
            worker.join(10_000);
            assertTrue(!worker.isAlive(), "executor thread did not observe close");
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> plan.execute(in, out));
            assertTrue(e.getMessage().contains("Fftw is closed"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> own.forward(64, 1));
            own.close(); // idempotent
        }
    }

    private static double[][] randomRows(SplittableRandom rnd, int rows, int cols, MemorySegment dst) {
        double[][] out = new double[rows][cols];
        for (int r = 0; r < rows; r++) {
            double scale = Math.exp(rnd.nextDouble(-3, 3)); // magnitudes over several decades
            for (int c = 0; c < cols; c++) {
                float v = (float) (rnd.nextGaussian() * scale);
                out[r][c] = v;
                dst.setAtIndex(ValueLayout.JAVA_FLOAT, (long) r * cols + c, v);
            }
        }
        return out;
    }

    private static double l1(double[] v) {
        double s = 0;
        for (double d : v) {
            s += Math.abs(d);
        }
        return Math.max(s, 1e-30);
    }
}
