package io.vidkv.bench;

import io.vidkv.CacheConfig;
import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.ModelShape;
import io.vidkv.ParallelRunner;
import io.vidkv.Preset;
import io.vidkv.kernel.DecodeAttention;
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
 * One decode step of one layer: 28 query heads over 4 KV heads, d = 128 (Qwen2-7B), attending to
 * {@code context} cached tokens stored with {@code preset}, on {@code threads} threads (the
 * caller's plus helpers of a {@link ParallelRunner}). Keys have persistent outlier channels;
 * values vary in magnitude per token.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
@State(Scope.Benchmark)
public class DecodeAttentionBenchmark {

    @Param({"vidkv-1.5/1.58", "fp16", "kivi-2", "vidkv-1.5/1.58-compact", "vidkv-1.5/1.66-stp", "vidkv-2/1.58-lsq"})
    public String preset;

    @Param({"4096", "6272", "16384", "32768"})
    public int context;

    @Param({"1", "2"})
    public int threads;

    /** Ternary packing for the presets with ternary values (ignored otherwise). */
    @Param({"BASE3"})
    public String packing;

    private Arena arena;
    private ParallelRunner runner;
    private KvCache cache;
    private DecodeAttention attention;
    private MemorySegment queries;
    private MemorySegment out;

    @Setup(Level.Trial)
    public void setup() {
        ModelShape shape = new ModelShape(1, 28, 4, 128);
        arena = Arena.ofShared();
        runner = new ParallelRunner(threads);
        io.vidkv.LayerConfig lc = Preset.byId(preset).layerConfig();
        if (lc.values().kind() == io.vidkv.ValueSpec.Kind.TERNARY) {
            lc = lc.withValues(lc.values().withPacking(io.vidkv.TernaryPacking.valueOf(packing)));
        }
        cache = KvCache.create(shape, CacheConfig.uniform(shape, lc).withCapacity(context + 1024), runner);
        SplittableRandom rnd = new SplittableRandom(7);
        int chunk = 1024;
        MemorySegment k = arena.allocate((long) chunk * 4 * 128 * 4, 64);
        MemorySegment v = arena.allocate((long) chunk * 4 * 128 * 4, 64);
        float[] chanScale = new float[4 * 128];
        for (int i = 0; i < chanScale.length; i++) {
            chanScale[i] = (float) (rnd.nextInt(8) == 0 ? 8 : 1);
        }
        for (int done = 0; done < context; done += chunk) {
            int n = Math.min(chunk, context - done);
            for (long i = 0; i < (long) n * 512; i++) {
                k.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (chanScale[(int) (i % 512)] * rnd.nextGaussian()));
                v.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
            }
            cache.append(0, k, v, n, InputType.F32);
        }
        attention = new DecodeAttention(cache, runner);
        queries = arena.allocate(28L * 128 * 4, 64);
        for (long i = 0; i < 28L * 128; i++) {
            queries.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (0.1 * rnd.nextGaussian()));
        }
        out = arena.allocate(28L * 128 * 4, 64);
    }

    @Benchmark
    public float decodeStep() {
        attention.attend(0, queries, out);
        return out.getAtIndex(ValueLayout.JAVA_FLOAT, 0);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        attention.close();
        cache.close();
        runner.close();
        arena.close();
    }
}
