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
import picocli.CommandLine.Option;

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

    @Option(names = "--threads", description = "Threads for quantization (default: ${DEFAULT-VALUE}).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Override
    public Integer call() {
        ModelShape shape = new ModelShape(layers, 28, 4, 128);
        System.out.printf("model: %d layers, %d query heads, %d KV heads, d = %d%n%n", shape.layers(), shape.queryHeads(),
                shape.kvHeads(), shape.headDim());
        System.out.println("| preset | tokens | nominal bits | effective bits | total bits | held MiB | FP16 MiB | FP16 / held |");
        System.out.println("|---|---|---|---|---|---|---|---|");
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
                for (String id : presets) {
                    Preset p = Preset.byId(id);
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
                        System.out.printf("| %s | %d | %.2f | %.3f | %.3f | %.1f | %.1f | %.2f |%n", id, n, r.nominalBits(),
                                r.effectiveBits(), r.totalBits(), held / 1048576.0, r.fp16Bytes() / 1048576.0,
                                r.compressionRatio());
                    }
                }
            }
        }
        return 0;
    }
}
