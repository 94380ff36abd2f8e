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
 * The dense score path of one KV head in a decode step, S[7][tokens] = Q[7][128] x K^T, two ways:
 * a oneDNN f32 matmul over K stored [tokens][128], and the library's Vector API loop over K stored as
 * rows [128][tokens] (the layout the decode kernel decodes blocks into). Single-threaded on the
 * Java side; oneDNN uses its OpenMP threads.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
@State(Scope.Benchmark)
public class DenseScoresBenchmark {

    @Param({"1024", "4096"})
    public int tokens;

    private static final int D = 128;
    private static final int Q = 7;

    private Arena arena;
    private Dnnl dnnl;
    private Matmul matmul;
    private MemorySegment q;
    private MemorySegment k;
    private MemorySegment s;
    private float[] qa;
    private float[] rows;
    private float[] scores;

    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        dnnl = Dnnl.create();
        matmul = dnnl.matmul(MatmulShape.of(Q, D, tokens, DnnlDataType.F32, false, true));
        q = arena.allocate(4L * Q * D, 64);
        k = arena.allocate(4L * tokens * D, 64);
        s = arena.allocate(4L * Q * tokens, 64);
        qa = new float[Q * D];
        rows = new float[D * tokens];
        scores = new float[Q * tokens];
        SplittableRandom rnd = new SplittableRandom(9);
        for (int i = 0; i < Q * D; i++) {
            qa[i] = (float) rnd.nextGaussian();
            q.setAtIndex(ValueLayout.JAVA_FLOAT, i, qa[i]);
        }
        for (int t = 0; t < tokens; t++) {
            for (int c = 0; c < D; c++) {
                float x = (float) rnd.nextGaussian();
                k.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * D + c, x);
                rows[c * tokens + t] = x;
            }
        }
    }

    @Benchmark
    public float onednn() {
        matmul.execute(q, k, s);
        return s.getAtIndex(ValueLayout.JAVA_FLOAT, 1);
    }

    @Benchmark
    public float vectorApi() {
        io.vidkv.kernel.AttentionMath m = io.vidkv.kernel.AttentionMath.INSTANCE;
        int j = 0;
        for (; j + 1 < Q; j += 2) {
            m.scores2(rows, D, tokens, qa, j * D, (j + 1) * D, scores, j * tokens, (j + 1) * tokens);
        }
        m.scores(rows, D, tokens, qa, j * D, scores, j * tokens);
        return scores[1];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        dnnl.close();
        arena.close();
    }
}
