package io.vidkv.bench;

import io.vidkv.CacheConfig;
import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.ModelShape;
import io.vidkv.PagePool;
import io.vidkv.ParallelRunner;
import io.vidkv.Preset;
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
 * Quantizing a prefill of {@code layers} layers x {@code kvHeads} KV heads x d = 128, K and V, on
 * {@code threads} threads: {@code perLayer} appends one layer after the other (the runner's items are
 * the layer's heads), {@code together} appends all of them in one {@link KvCache#appendLayers} call
 * (items are (layer, head) pairs). With fewer KV heads than threads only the second keeps every
 * thread busy. Elements per second = layers x kvHeads x 128 x 2 x tokens / score.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
@State(Scope.Benchmark)
public class LayerPrefillBenchmark {

    @Param({"vidkv-1.5/1.58"})
    public String preset;

    @Param({"1", "4"})
    public int kvHeads;

    @Param({"4"})
    public int layers;

    @Param({"6272"})
    public int tokens;

    @Param({"2"})
    public int threads;

    private Arena arena;
    private ParallelRunner runner;
    private PagePool pool;
    private ModelShape shape;
    private CacheConfig config;
    private MemorySegment[] keys;
    private MemorySegment[] values;

    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        runner = new ParallelRunner(threads);
        shape = new ModelShape(layers, 7 * kvHeads, kvHeads, 128);
        config = CacheConfig.of(shape, Preset.byId(preset)).withCapacity(tokens + 1024);
        pool = PagePool.ofBytes(config.pageBytes(), 8L << 30);
        SplittableRandom rnd = new SplittableRandom(5);
        long elements = (long) tokens * shape.tokenElements();
        keys = new MemorySegment[layers];
        values = new MemorySegment[layers];
        for (int l = 0; l < layers; l++) {
            keys[l] = arena.allocate(elements * 4, 64);
            values[l] = arena.allocate(elements * 4, 64);
            for (long i = 0; i < elements; i++) {
                keys[l].setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) ((i % 128 % 9 == 0 ? 8 : 1) * rnd.nextGaussian()));
                values[l].setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
            }
        }
    }

    @Benchmark
    public int perLayer() {
        try (KvCache cache = KvCache.create(shape, config, pool, runner)) {
            for (int l = 0; l < layers; l++) {
                cache.append(l, keys[l], values[l], tokens, InputType.F32);
            }
            return cache.quantizedTokenCount(layers - 1);
        }
    }

    @Benchmark
    public int together() {
        try (KvCache cache = KvCache.create(shape, config, pool, runner)) {
            cache.appendLayers(0, keys, values, tokens, InputType.F32);
            return cache.quantizedTokenCount(layers - 1);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
        runner.close();
        arena.close();
    }
}
