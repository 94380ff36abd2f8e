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
 * Quantization throughput for one layer of 4 KV heads x d = 128:
 * {@code prefill} appends {@code tokens} tokens at once into a fresh sequence (heads in parallel on
 * {@code threads} threads; pages come from a warm shared pool, as in a server);
 * {@code decodeAppend} appends one token to a sequence that held {@code tokens} at the start of the
 * iteration (every 32nd call quantizes a group). Tokens per second = tokens / score.
 *
 * <p>The decode sequence is made afresh before each iteration, outside the measured calls, with room
 * for {@link #DECODE_HEADROOM} more tokens than one iteration appends at these speeds: re-creating it
 * (a whole prefill) inside the measured calls, as this benchmark did up to 2026-12-02, added about
 * 0.4 us a call (one 6,272-token prefill every 65,536 calls). The guard in {@code decodeAppend} stays
 * for a preset fast enough to fill the headroom within one iteration.
 */
@BenchmarkMode(Mode.AverageTime)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
@State(Scope.Benchmark)
public class QuantizeBenchmark {

    private static final ModelShape SHAPE = new ModelShape(1, 28, 4, 128);

    @Param({"vidkv-1.5/1.58", "fp16", "kivi-2", "vidkv-1.5/1.66-stp", "vidkv-1.5/1.58-compact"})
    public String preset;

    @Param({"6272", "32768"})
    public int tokens;

    @Param({"2"})
    public int threads;

    private Arena arena;
    private ParallelRunner runner;
    private PagePool pool;
    private CacheConfig config;
    private CacheConfig decodeConfig;
    private MemorySegment keys;
    private MemorySegment values;
    private KvCache decodeCache;
    private MemorySegment[] oneKey;
    private MemorySegment[] oneValue;
    private int next;

    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        runner = new ParallelRunner(threads);
        config = CacheConfig.of(SHAPE, Preset.byId(preset)).withCapacity(tokens + 65_536);
        decodeConfig = CacheConfig.of(SHAPE, Preset.byId(preset)).withCapacity(tokens + DECODE_HEADROOM);
        pool = PagePool.ofBytes(config.pageBytes(), 4L << 30);
        SplittableRandom rnd = new SplittableRandom(3);
        keys = arena.allocate((long) tokens * 512 * 4, 64);
        values = arena.allocate((long) tokens * 512 * 4, 64);
        for (long i = 0; i < (long) tokens * 512; i++) {
            keys.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) ((i % 512 % 9 == 0 ? 8 : 1) * rnd.nextGaussian()));
            values.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
        }
        oneKey = new MemorySegment[tokens];
        oneValue = new MemorySegment[tokens];
        for (int t = 0; t < tokens; t++) {
            oneKey[t] = keys.asSlice((long) t * 512 * 4, 512 * 4);
            oneValue[t] = values.asSlice((long) t * 512 * 4, 512 * 4);
        }
    }

    /** Tokens a decode sequence can take beyond its first {@code tokens} (1 s of appends at 1 us each). */
    private static final int DECODE_HEADROOM = 1 << 20;

    @Setup(Level.Iteration)
    public void freshDecodeSequence() {
        if (decodeCache != null) {
            decodeCache.close();
        }
        decodeCache = KvCache.create(SHAPE, decodeConfig, pool, runner);
        decodeCache.append(0, keys, values, tokens, InputType.F32);
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public int prefill() {
        try (KvCache cache = KvCache.create(SHAPE, config, pool, runner)) {
            cache.append(0, keys, values, tokens, InputType.F32);
            return cache.quantizedTokenCount(0);
        }
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public int decodeAppend() {
        if (decodeCache.tokenCount(0) >= decodeConfig.capacity().maxTokens()) {
            freshDecodeSequence();
        }
        int t = next++ % tokens;
        decodeCache.append(0, oneKey[t], oneValue[t], 1, InputType.F32);
        return decodeCache.tokenCount(0);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        decodeCache.close();
        pool.close();
        runner.close();
        arena.close();
    }
}
