package io.vidkv.bench;

import io.vidkv.nativelib.Fftw;
import io.vidkv.nativelib.RealFftPlan;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * FFTW against a plain-Java FFT for the transforms VidKV uses: the real DFT of the n normal key
 * channels (n = 64 for d = 128 at 1.5 key bits, n = 96 at 1.25) for one group of 32 tokens (the
 * quantizer) and for the 7 queries of one KV head (the per-step query transform).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
@State(Scope.Benchmark)
public class FftImplementationBenchmark {

    @Param({"64", "96"})
    public int n;

    @Param({"7", "32"})
    public int rows;

    private Arena arena;
    private Fftw fftw;
    private RealFftPlan plan;
    private MemorySegment in;
    private MemorySegment out;
    private float[] x;
    private float[] spectrum;
    private PlainJavaFft plain;

    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        fftw = Fftw.create(Fftw.Rigor.MEASURE);
        plan = fftw.forward(n, rows);
        in = Fftw.allocate(arena, (long) n * rows);
        out = Fftw.allocate(arena, 2L * (n / 2 + 1) * rows);
        x = new float[n * rows];
        spectrum = new float[2 * (n / 2 + 1) * rows];
        SplittableRandom rnd = new SplittableRandom(5);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
            in.setAtIndex(ValueLayout.JAVA_FLOAT, i, x[i]);
        }
        plain = new PlainJavaFft(n);
        // Both must compute the same transform, or the comparison means nothing.
        plan.execute(in, out);
        plainJava();
        for (int i = 0; i < spectrum.length; i++) {
            if (Math.abs(spectrum[i] - out.getAtIndex(ValueLayout.JAVA_FLOAT, i)) > 1e-3 * n) {
                throw new IllegalStateException("plain-Java FFT disagrees with FFTW at " + i);
            }
        }
    }

    @Benchmark
    public float fftw() {
        plan.execute(in, out);
        return out.getAtIndex(ValueLayout.JAVA_FLOAT, 2);
    }

    @Benchmark
    public float plainJava() {
        for (int r = 0; r < rows; r++) {
            plain.realForward(x, r * n, spectrum, r * 2 * (n / 2 + 1));
        }
        return spectrum[2];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        fftw.close();
        arena.close();
    }
}
