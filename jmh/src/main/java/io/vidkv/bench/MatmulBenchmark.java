package io.vidkv.bench;

import io.vidkv.nativelib.Dnnl;
import io.vidkv.nativelib.DnnlDataType;
import io.vidkv.nativelib.Matmul;
import io.vidkv.nativelib.MatmulShape;
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
 * f32 matmul through oneDNN (CPU engine). Scores are time per matmul call.
 * <ul>
 *   <li>{@link #prefillScores}: chunked-prefill attention scores {@code S = Q x K^T}, Q [256, 128]
 *       (a chunk of 256 query tokens, head dim 128), K stored row-major [context, 128] and read
 *       transposed in place (transposeB), S [256, context];
 *   <li>{@link #square512}: a dense 512 x 512 x 512 reference point (268 MFLOP per call).
 * </ul>
 *
 * <p>{@code java -jar jmh/target/benchmarks.jar MatmulBenchmark}
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class MatmulBenchmark {

    static final int QUERY_CHUNK = 256;
    static final int HEAD_DIM = 128;
    static final int SQUARE = 512;

    /** One oneDNN engine, primitive and three operand segments; subclasses pick the shape. */
    abstract static class MatmulState {
        Arena arena;
        Dnnl dnnl;
        Matmul matmul;
        MemorySegment a;
        MemorySegment b;
        MemorySegment c;
        long probe;

        abstract MatmulShape shape();

        void init() {
            MatmulShape shape = shape();
            arena = Arena.ofShared();
            dnnl = Dnnl.create();
            matmul = dnnl.matmul(shape);
            a = randomFloats(arena, shape.bytesA(), 1);
            b = randomFloats(arena, shape.bytesB(), 2);
            c = arena.allocate(shape.bytesC(), 64);
            probe = shape.bytesC() / Float.BYTES - 1; // last element of C
        }

        void close() {
            if (dnnl != null) {
                dnnl.close();
            }
            if (arena != null) {
                arena.close();
            }
        }

        float run() {
            matmul.execute(a, b, c);
            return c.getAtIndex(ValueLayout.JAVA_FLOAT, probe);
        }
    }

    @State(Scope.Benchmark)
    public static class Prefill extends MatmulState {
        /** Keys in the cache (columns of the score matrix). */
        @Param({"1024", "6272"})
        public int context;

        @Override
        MatmulShape shape() {
            return MatmulShape.of(QUERY_CHUNK, HEAD_DIM, context, DnnlDataType.F32, false, true);
        }

        @Setup(Level.Trial)
        public void setup() {
            init();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            close();
        }
    }

    @State(Scope.Benchmark)
    public static class Square extends MatmulState {
        @Override
        MatmulShape shape() {
            return MatmulShape.f32(SQUARE, SQUARE, SQUARE);
        }

        @Setup(Level.Trial)
        public void setup() {
            init();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            close();
        }
    }

    @Benchmark
    public float prefillScores(Prefill s) {
        return s.run();
    }

    @Benchmark
    public float square512(Square s) {
        return s.run();
    }

    static MemorySegment randomFloats(Arena arena, long bytes, long seed) {
        MemorySegment seg = arena.allocate(bytes, 64);
        SplittableRandom rnd = new SplittableRandom(seed);
        long count = bytes / Float.BYTES;
        for (long i = 0; i < count; i++) {
            seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (rnd.nextDouble() * 2 - 1));
        }
        return seg;
    }
}
