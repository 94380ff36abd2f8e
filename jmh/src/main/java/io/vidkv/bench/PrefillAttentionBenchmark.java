package io.vidkv.bench;

import io.vidkv.CacheConfig;
import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.ModelShape;
import io.vidkv.Preset;
import io.vidkv.kernel.PrefillAttention;
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
 * Chunked prefill attention: {@code queries} query tokens (28 heads each) at the end of a
 * {@code context}-token cache of one layer (4 KV heads, d = 128), causal, tiles of 512 tokens
 * decoded into the native tile in row space and multiplied with oneDNN f32 matmuls, the softmax in
 * place between them. The tear-down prints the split of
 * the measured time between dequantizing, oneDNN and the softmax.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
@State(Scope.Benchmark)
public class PrefillAttentionBenchmark {

    @Param({"vidkv-1.5/1.58", "fp16"})
    public String preset;

    @Param({"6272", "32768"})
    public int context;

    @Param({"256"})
    public int queries;

    private Arena arena;
    private KvCache cache;
    private PrefillAttention attention;
    private MemorySegment q;
    private MemorySegment out;
    private long dequantize;
    private long matmul;
    private long softmax;

    @Setup(Level.Trial)
    public void setup() {
        ModelShape shape = new ModelShape(1, 28, 4, 128);
        arena = Arena.ofShared();
        cache = KvCache.create(shape, CacheConfig.of(shape, Preset.byId(preset)).withCapacity(context + 64));
        SplittableRandom rnd = new SplittableRandom(11);
        MemorySegment k = arena.allocate((long) context * 512 * 4, 64);
        MemorySegment v = arena.allocate((long) context * 512 * 4, 64);
        for (long i = 0; i < (long) context * 512; i++) {
            k.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) ((i % 512 % 9 == 0 ? 8 : 1) * rnd.nextGaussian()));
            v.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
        }
        cache.append(0, k, v, context, InputType.F32);
        attention = new PrefillAttention(cache, queries, 512);
        q = arena.allocate((long) queries * 28 * 128 * 4, 64);
        for (long i = 0; i < (long) queries * 28 * 128; i++) {
            q.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (0.1 * rnd.nextGaussian()));
        }
        out = arena.allocate((long) queries * 28 * 128 * 4, 64);
    }

    @Benchmark
    public float prefillChunk() {
        attention.attend(0, q, out, queries, context - queries);
        PrefillAttention.Timing t = attention.lastTiming();
        dequantize += t.dequantizeNanos();
        matmul += t.matmulNanos();
        softmax += t.softmaxNanos();
        return out.getAtIndex(ValueLayout.JAVA_FLOAT, 0);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        double total = dequantize + matmul + softmax;
        System.out.printf("%n[%s threads=1 OMP_WAIT_POLICY=%s] share of time: dequantize %.1f %%, oneDNN matmul %.1f %%, softmax %.1f %%%n",
                preset, System.getenv().getOrDefault("OMP_WAIT_POLICY", "unset"),
                100 * dequantize / total, 100 * matmul / total, 100 * softmax / total);
        attention.close();
        cache.close();
        arena.close();
    }
}
