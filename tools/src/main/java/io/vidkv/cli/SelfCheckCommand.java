package io.vidkv.cli;

import io.vidkv.nativelib.Dnnl;
import io.vidkv.nativelib.Fftw;
import io.vidkv.nativelib.LoadedLibrary;
import io.vidkv.nativelib.Matmul;
import io.vidkv.nativelib.MatmulShape;
import io.vidkv.nativelib.NativeLibraries;
import io.vidkv.nativelib.RealFftPlan;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * Loads the native libraries, runs the two native paths vidkv uses on the shapes it uses them
 * for, checks each against a float64 computation, and prints what was loaded and how fast it ran.
 */
@Command(name = "selfcheck", mixinStandardHelpOptions = true,
        description = {"Load FFTW and oneDNN, run a batched real FFT (n = 64, the normal key channels of one",
                "head) and a Q x K^T matmul (256 queries x 6,272 keys, d = 128) against float64 references,",
                "and print library versions, paths, vector species and timings. Exit code 1 if a check fails."})
final class SelfCheckCommand implements Callable<Integer> {

    @Option(names = "--seed", description = "Random seed for the test data (default: ${DEFAULT-VALUE}).")
    long seed = 20250320L;

    @Option(names = "--fft-batch", description = "Rows in the batched FFT (default: ${DEFAULT-VALUE}).")
    int fftBatch = 4096;

    @Option(names = "--context", description = "Keys in the matmul check (default: ${DEFAULT-VALUE}).")
    int context = 6272;

    private static final double FFT_TOLERANCE = 1e-5;    // relative, float32 FFT of length 64
    private static final double MATMUL_TOLERANCE = 1e-5; // relative to sum |a_i b_i|, k = 128

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        Checks.atLeast(spec, "--fft-batch", fftBatch, 1);
        Checks.atLeast(spec, "--context", context, 1);
        // FFT: input, spectrum and round trip of n = 64 floats a row; matmul: Q, K and the scores.
        new Footprint().offHeap("FFT buffers", 3.0 * 66 * fftBatch * Float.BYTES)
                .offHeap("matmul buffers", (256.0 * 128 + 128.0 * context + 256.0 * context) * Float.BYTES)
                .check(spec, "--fft-batch " + fftBatch + " with --context " + context);
        System.out.printf("JVM            %s %s (%s)%n", System.getProperty("java.vm.name"),
                Runtime.version(), System.getProperty("java.home"));
        System.out.printf("CPU            %d cores, %s%n", Runtime.getRuntime().availableProcessors(),
                System.getProperty("os.arch"));
        System.out.printf("kernels        %s%n", io.vidkv.kernel.DecodeAttention.kernelBody());
        System.out.printf("FFTW           %s%n", Fftw.version());
        System.out.printf("oneDNN         %s, ISA %s%n", Dnnl.version(), Dnnl.cpuIsa());
        for (LoadedLibrary lib : NativeLibraries.loaded()) {
            System.out.printf("  loaded       %-16s %-8s %s%n", lib.file(), lib.source(), lib.path());
        }
        boolean ok = checkFft() & checkMatmul();
        System.out.println(ok ? "selfcheck: OK" : "selfcheck: FAILED");
        return ok ? 0 : 1;
    }

    private boolean checkFft() {
        int n = 64;
        SplittableRandom rnd = new SplittableRandom(seed);
        try (Arena arena = Arena.ofConfined(); Fftw fftw = Fftw.create(Fftw.Rigor.MEASURE)) {
            long t0 = System.nanoTime();
            RealFftPlan fwd = fftw.forward(n, fftBatch);
            RealFftPlan inv = fftw.inverse(n, fftBatch);
            long planNs = System.nanoTime() - t0;
            MemorySegment x = Fftw.allocate(arena, (long) n * fftBatch);
            MemorySegment spec = Fftw.allocate(arena, 2L * (n / 2 + 1) * fftBatch);
            MemorySegment back = Fftw.allocate(arena, (long) n * fftBatch);
            for (long i = 0; i < (long) n * fftBatch; i++) {
                x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
            }
            fwd.execute(x, spec);
            double maxErr = 0;
            for (int check = 0; check < 32; check++) {
                int row = rnd.nextInt(fftBatch);
                for (int j = 0; j <= n / 2; j++) {
                    double re = 0, im = 0, norm = 0;
                    for (int t = 0; t < n; t++) {
                        double v = x.getAtIndex(ValueLayout.JAVA_FLOAT, (long) row * n + t);
                        re += v * Math.cos(2 * Math.PI * j * t / n);
                        im -= v * Math.sin(2 * Math.PI * j * t / n);
                        norm += Math.abs(v);
                    }
                    long o = 2L * ((long) row * (n / 2 + 1) + j);
                    double err = Math.hypot(spec.getAtIndex(ValueLayout.JAVA_FLOAT, o) - re,
                            spec.getAtIndex(ValueLayout.JAVA_FLOAT, o + 1) - im) / norm;
                    maxErr = Math.max(maxErr, err);
                }
            }
            inv.execute(spec, back);
            double rtErr = 0;
            for (long i = 0; i < (long) n * fftBatch; i++) {
                rtErr = Math.max(rtErr, Math.abs(back.getAtIndex(ValueLayout.JAVA_FLOAT, i) / n
                        - x.getAtIndex(ValueLayout.JAVA_FLOAT, i)));
            }
            int reps = 50;
            t0 = System.nanoTime();
            for (int r = 0; r < reps; r++) {
                fwd.execute(x, spec);
            }
            double usPerBatch = (System.nanoTime() - t0) / 1e3 / reps;
            boolean ok = maxErr < FFT_TOLERANCE && rtErr < 1e-4;
            System.out.printf("FFT  r2c n=%d x %d rows: max rel err vs float64 DFT %.2e, round-trip err %.2e, "
                            + "%.1f us per batch (%.1f ns/row), planning %.0f ms  [%s]%n", n, fftBatch, maxErr, rtErr,
                    usPerBatch, usPerBatch * 1e3 / fftBatch, planNs / 1e6, ok ? "ok" : "FAIL");
            return ok;
        }
    }

    private boolean checkMatmul() {
        int m = 256, k = 128, nCols = context;
        SplittableRandom rnd = new SplittableRandom(seed + 1);
        try (Arena arena = Arena.ofConfined(); Dnnl dnnl = Dnnl.create()) {
            // scores[m, context] = Q[m, k] x K[context, k]^T / sqrt(k): K rows read in place.
            MatmulShape shape = MatmulShape.of(m, k, nCols, io.vidkv.nativelib.DnnlDataType.F32, false, true)
                    .withScale((float) (1 / Math.sqrt(k)), 0f);
            Matmul mm = dnnl.matmul(shape);
            MemorySegment q = arena.allocate((long) m * k * 4, 64);
            MemorySegment keys = arena.allocate((long) nCols * k * 4, 64);
            MemorySegment s = arena.allocate((long) m * nCols * 4, 64);
            fill(q, (long) m * k, rnd);
            fill(keys, (long) nCols * k, rnd);
            mm.execute(q, keys, s);
            double maxErr = 0;
            for (int check = 0; check < 256; check++) {
                int i = rnd.nextInt(m), j = rnd.nextInt(nCols);
                double ref = 0, mag = 0;
                for (int t = 0; t < k; t++) {
                    double p = (double) q.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * k + t)
                            * keys.getAtIndex(ValueLayout.JAVA_FLOAT, (long) j * k + t);
                    ref += p;
                    mag += Math.abs(p);
                }
                ref /= Math.sqrt(k);
                mag /= Math.sqrt(k);
                maxErr = Math.max(maxErr, Math.abs(s.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * nCols + j) - ref) / mag);
            }
            int reps = 20;
            long t0 = System.nanoTime();
            for (int r = 0; r < reps; r++) {
                mm.execute(q, keys, s);
            }
            double ms = (System.nanoTime() - t0) / 1e6 / reps;
            double gflops = 2.0 * m * k * nCols / (ms * 1e6);
            boolean ok = maxErr < MATMUL_TOLERANCE;
            System.out.printf("GEMM f32 %dx%d x (%dx%d)^T [%s]: max rel err vs float64 %.2e, %.2f ms (%.1f GFLOP/s)  [%s]%n",
                    m, k, nCols, k, mm.implementation(), maxErr, ms, gflops, ok ? "ok" : "FAIL");
            System.out.printf("bf16 matmul    %s%n", dnnl.supportsBf16Matmul() ? "optimized kernel available"
                    : "not available on this CPU (no AVX512-BF16, AVX2-VNNI-2 or AMX): f32 is the path");
            return ok;
        }
    }

    private static void fill(MemorySegment seg, long count, SplittableRandom rnd) {
        for (long i = 0; i < count; i++) {
            seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
        }
    }
}
