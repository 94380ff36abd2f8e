package io.vidkv.cli;

import io.vidkv.CacheConfig;
import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.MemoryReport;
import io.vidkv.ModelShape;
import io.vidkv.ParallelRunner;
import io.vidkv.Preset;
import io.vidkv.TokenSaliency;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * Fills a real cache of the whole model per preset and prints its {@link MemoryReport}: the
 * memory table of BENCHMARKS.md. The data are random (keys with outlier channels); sizes do not
 * depend on values except through the protected tokens, which are the top fraction p of random
 * saliency scores.
 */
@Command(name = "memory", mixinStandardHelpOptions = true,
        description = "Memory held by each preset for a model of the given shape at the given context lengths.")
final class MemoryCommand implements Callable<Integer> {

    @Option(names = "--tokens", split = ",", description = "Context lengths (default: ${DEFAULT-VALUE}).")
    List<Integer> tokens = List.of(6272, 32768);

    @Option(names = "--presets", split = ",", description = "Presets (default: all).")
    List<String> presets = Preset.ids();

    @Option(names = "--layers", description = "Layers (default: ${DEFAULT-VALUE}, Qwen2-7B).")
    int layers = 28;

    @Option(names = "--threads", description = "Threads for quantization, 1 to 1024 (default: ${DEFAULT-VALUE}).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        List<Preset> ps = Checks.presets(spec, "--presets", presets);
        Checks.threads(spec, threads);
        Checks.atLeast(spec, "--layers", layers, 1);
        if (tokens.isEmpty()) {
            throw Checks.error(spec, "--tokens must list at least one context length");
        }
        ModelShape shape = new ModelShape(layers, 28, 4, 128);
        double inputs = 0; // the K/V input of every length stays allocated until the end (one arena)
        for (int n : tokens) {
            Checks.between(spec, "--tokens", n, 1, Checks.MAX_TOKENS);
            inputs += Footprint.inputBytes(shape, 1, n);
            checkFootprint(shape, ps, n, inputs);
        }
        System.out.printf("model: %d layers, %d query heads, %d KV heads, d = %d%n%n", shape.layers(), shape.queryHeads(),
                shape.kvHeads(), shape.headDim());
        System.out.println("| preset | tokens | nominal bits | effective bits | total bits | held MiB | FP16 MiB | FP16 / held |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        boolean unquantized = false;
        try (ParallelRunner runner = new ParallelRunner(threads); Arena arena = Arena.ofShared()) {
            for (int n : tokens) {
                SplittableRandom rnd = new SplittableRandom(n);
                long elements = (long) n * shape.tokenElements();
                MemorySegment k = arena.allocate(elements * 4, 64);
                MemorySegment v = arena.allocate(elements * 4, 64);
                for (long i = 0; i < elements; i++) {
                    k.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) ((i % 128 % 7 == 0 ? 6 : 1) * rnd.nextGaussian()));
                    v.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
                }
                float[] saliency = new float[n];
                for (int i = 0; i < n; i++) {
                    saliency[i] = (float) rnd.nextDouble();
                }
                for (Preset p : ps) {
                    String id = p.id();
                    CacheConfig config = CacheConfig.of(shape, p).withCapacity(n + 64);
                    try (KvCache cache = KvCache.create(shape, config, runner)) {
                        if (p.layerConfig().values().protection()) {
                            cache.protectBySaliency(0, saliency, p.layerConfig().values().protectedFraction());
                        }
                        for (int l = 0; l < layers; l++) {
                            cache.append(l, k, v, n, InputType.F32);
                        }
                        MemoryReport r = cache.memoryReport();
                        long held = r.pageBytes() + r.residualBytes();
                        // effective bits count quantized blocks; below the first block there are none
                        boolean anyBlock = r.layers().getFirst().quantizedTokens() > 0;
                        System.out.printf("| %s | %d | %.2f | %s | %.3f | %.1f | %.1f | %.2f |%n", id, n, r.nominalBits(),
                                anyBlock ? String.format("%.3f", r.effectiveBits()) : "-", r.totalBits(), held / 1048576.0,
                                r.fp16Bytes() / 1048576.0, r.compressionRatio());
                        unquantized |= !anyBlock;
                    }
                }
            }
        }
        if (unquantized) {
            System.out.println("- : nothing quantized yet (the first block waits for R + C x G tokens, e.g. "
                    + ps.stream().mapToInt(p -> p.layerConfig().windowCapacity()).min().orElseThrow() + "); all tokens are in the "
                    + "float32 residual window, counted in total bits");
        }
        return 0;
    }

    /** Peak at a context length: the K/V inputs so far and the largest preset's cache (one cache open at a time). */
    private void checkFootprint(ModelShape shape, List<Preset> ps, int n, double inputs) {
        double cache = 0, directory = 0;
        for (Preset p : ps) {
            cache = Math.max(cache, Footprint.cacheNativeBytes(shape, p.layerConfig(), layers, n + 64.0));
            directory = Math.max(directory, Footprint.cacheHeapBytes(shape, p.layerConfig(), layers, n + 64.0));
        }
        new Footprint()
                .offHeap("K/V input", inputs)
                .offHeap("largest preset's cache", cache)
                .heap("cache directory", directory)
                .heap("saliency scores", 4.0 * n)
                .check(spec, "--tokens " + n + (layers != 28 ? " with --layers " + layers : ""));
    }
}
