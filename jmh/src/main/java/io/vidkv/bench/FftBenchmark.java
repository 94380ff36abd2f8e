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
 * Batched real-to-complex FFT through FFTW (plans made with {@link Fftw.Rigor#MEASURE}):
 * {@code batch} contiguous real rows of {@code n} floats to rows of {@code n/2+1} complex values.
 * n = 64 is VidKV's normal-channel count for head dim 128. The score is the time for one whole
 * batch (one {@link RealFftPlan#execute} call).
 *
 * <p>{@code java -jar jmh/target/benchmarks.jar FftBenchmark}
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
@State(Scope.Benchmark)
public class FftBenchmark {

    /** Transform length (real samples per row). */
    @Param({"64", "128"})
    public int n;

    /** Rows per execute call. */
    @Param({"32", "256", "4096"})
    public int batch;

    private Arena arena;
    private Fftw fftw;
    private RealFftPlan plan;
    private MemorySegment in;
    private MemorySegment out;
    private long probe;

    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        fftw = Fftw.create(Fftw.Rigor.MEASURE);
        // Planning first: MEASURE overwrites its own planning arrays only, but keep the order anyway.
        plan = fftw.forward(n, batch);
        long realFloats = (long) n * batch;
        long complexFloats = 2L * (n / 2 + 1) * batch;
        in = Fftw.allocate(arena, realFloats);
        out = Fftw.allocate(arena, complexFloats);
        SplittableRandom rnd = new SplittableRandom(42);
        for (long i = 0; i < realFloats; i++) {
            in.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (rnd.nextDouble() * 2 - 1));
        }
        probe = complexFloats / 2 + 1; // some element of the last half of the output
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (fftw != null) {
            fftw.close();
        }
        if (arena != null) {
            arena.close();
        }
    }

    @Benchmark
    public float forward() {
        plan.execute(in, out);
        return out.getAtIndex(ValueLayout.JAVA_FLOAT, probe);
    }
}
