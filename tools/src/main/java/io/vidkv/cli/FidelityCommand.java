package io.vidkv.cli;

import io.vidkv.CacheConfig;
import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.ModelShape;
import io.vidkv.ParallelRunner;
import io.vidkv.Preset;
import io.vidkv.kernel.DecodeAttention;
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
 * Reconstruction and attention fidelity of each preset on one synthetic layer shaped like a video
 * LLM's (persistent outlier key channels, values varying per token): relative Frobenius error of
 * the dequantized keys and values, and relative L2 error of the fused decode attention output
 * against float64 attention on the original K/V, for random queries. A quick check of what each
 * storage choice costs; the full evaluation with real data and the paper's metrics is {@code eval}.
 */
@Command(name = "fidelity", mixinStandardHelpOptions = true,
        description = "Key/value reconstruction error and attention error per preset on synthetic video-LLM-like data.")
final class FidelityCommand implements Callable<Integer> {

    @Option(names = "--tokens", description = "Cached tokens (default: ${DEFAULT-VALUE}; at least R + C x G of the presets, 256 for all of "
            + "them: with fewer, nothing is quantized).")
    int tokens = 4096;

    @Option(names = "--presets", split = ",", description = "Presets (default: all).")
    List<String> presets = Preset.ids();

    @Option(names = "--seed", description = "Data seed (default: ${DEFAULT-VALUE}).")
    long seed = 1;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        ModelShape shape = new ModelShape(1, 28, 4, 128);
        int d = 128;
        List<Preset> ps = Checks.presets(spec, "--presets", presets);
        Preset most = Checks.mostBuffered(ps);
        int needed = most.layerConfig().windowCapacity();
        if (tokens < needed) {
            throw Checks.error(spec, "--tokens must be at least " + needed + ", got " + tokens + ": "
                    + Checks.firstBlock(most.id(), most.layerConfig()) + "; fewer tokens would measure no quantized block");
        }
        Checks.between(spec, "--tokens", tokens, needed, Checks.MAX_TOKENS);
        checkFootprint(shape, ps);
        SplittableRandom rnd = new SplittableRandom(seed);
        System.out.println("| preset | effective bits | key rel. error | value rel. error | attention rel. error |");
        System.out.println("|---|---|---|---|---|");
        try (Arena arena = Arena.ofShared(); ParallelRunner runner = new ParallelRunner(Runtime.getRuntime().availableProcessors())) {
            long n = (long) tokens * shape.tokenElements();
            MemorySegment k = arena.allocate(n * 4, 64), v = arena.allocate(n * 4, 64);
            double[] chanScale = new double[512], chanOffset = new double[512];
            for (int i = 0; i < 512; i++) {
                boolean outlier = rnd.nextInt(8) == 0;
                chanScale[i] = outlier ? 6 + 4 * rnd.nextDouble() : 0.5 + rnd.nextDouble();
                chanOffset[i] = outlier ? 3 * rnd.nextGaussian() : 0;
            }
            for (int t = 0; t < tokens; t++) {
                double ts = Math.exp(rnd.nextDouble(-1.5, 1.5));
                for (int i = 0; i < 512; i++) {
                    k.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * 512 + i, (float) (chanOffset[i] + chanScale[i] * rnd.nextGaussian()));
                    v.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * 512 + i, (float) (ts * rnd.nextGaussian()));
                }
            }
            MemorySegment q = arena.allocate(28L * d * 4, 64), out = arena.allocate(28L * d * 4, 64);
            for (int i = 0; i < 28 * d; i++) {
                q.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (0.15 * rnd.nextGaussian()));
            }
            double[][] exact = exactAttention(k, v, q, shape);
            for (Preset p : ps) {
                String id = p.id();
                try (KvCache cache = KvCache.create(shape, CacheConfig.of(shape, p).withCapacity(tokens + 64), runner);
                     DecodeAttention attn = new DecodeAttention(cache, runner)) {
                    if (p.layerConfig().values().protection()) {
                        float[] s = new float[tokens];
                        for (int i = 0; i < tokens; i++) {
                            s[i] = (float) rnd.nextDouble();
                        }
                        cache.protectBySaliency(0, s, p.layerConfig().values().protectedFraction());
                    }
                    cache.append(0, k, v, tokens, InputType.F32);
                    double[] kv = reconstructionError(cache, k, v, shape);
                    attn.attend(0, q, out);
                    double num = 0, den = 0;
                    for (int h = 0; h < 28; h++) {
                        for (int c = 0; c < d; c++) {
                            double diff = out.getAtIndex(ValueLayout.JAVA_FLOAT, (long) h * d + c) - exact[h][c];
                            num += diff * diff;
                            den += exact[h][c] * exact[h][c];
                        }
                    }
                    System.out.printf("| %s | %.3f | %.4f | %.4f | %.4f |%n", id, cache.memoryReport().effectiveBits(), kv[0], kv[1],
                            Math.sqrt(num / den));
                }
            }
        }
        return 0;
    }

    /** The K/V input, one preset's cache at a time, one head dequantized at a time for the reconstruction error. */
    private void checkFootprint(ModelShape shape, List<Preset> ps) {
        double cache = 0, directory = 0;
        for (Preset p : ps) {
            cache = Math.max(cache, Footprint.cacheNativeBytes(shape, p.layerConfig(), 1, tokens + 64.0));
            directory = Math.max(directory, Footprint.cacheHeapBytes(shape, p.layerConfig(), 1, tokens + 64.0));
        }
        new Footprint().offHeap("K/V input", Footprint.inputBytes(shape, 1, tokens))
                .offHeap("largest preset's cache", cache)
                .heap("one head dequantized", 2.0 * tokens * (shape.headDim() * 8 + 16))
                .heap("cache directory", directory)
                .check(spec, "--tokens " + tokens);
    }

    /** Relative Frobenius error of what the cache holds (blocks dequantized, window as stored) vs the input. */
    private static double[] reconstructionError(KvCache cache, MemorySegment k, MemorySegment v, ModelShape shape) {
        int d = shape.headDim();
        double[] num = new double[2], den = new double[2];
        for (int h = 0; h < shape.kvHeads(); h++) {
            double[][][] held = io.vidkv.eval.CacheContents.dequantize(cache, 0, h);
            for (int part = 0; part < 2; part++) {
                MemorySegment src = part == 0 ? k : v;
                for (int t = 0; t < held[part].length; t++) {
                    for (int c = 0; c < d; c++) {
                        double ref = src.getAtIndex(ValueLayout.JAVA_FLOAT, ((long) t * shape.kvHeads() + h) * d + c);
                        num[part] += Math.pow(held[part][t][c] - ref, 2);
                        den[part] += ref * ref;
                    }
                }
            }
        }
        return new double[]{Math.sqrt(num[0] / den[0]), Math.sqrt(num[1] / den[1])};
    }

    private static double[][] exactAttention(MemorySegment k, MemorySegment v, MemorySegment q, ModelShape shape) {
        int d = shape.headDim();
        int tokens = (int) (k.byteSize() / 4 / shape.tokenElements());
        double[][] out = new double[shape.queryHeads()][d];
        double[] s = new double[tokens];
        for (int h = 0; h < shape.queryHeads(); h++) {
            int kv = h / shape.queriesPerKvHead();
            double m = Double.NEGATIVE_INFINITY;
            for (int t = 0; t < tokens; t++) {
                double dot = 0;
                for (int c = 0; c < d; c++) {
                    dot += (double) q.getAtIndex(ValueLayout.JAVA_FLOAT, (long) h * d + c)
                            * k.getAtIndex(ValueLayout.JAVA_FLOAT, ((long) t * shape.kvHeads() + kv) * d + c);
                }
                s[t] = dot / Math.sqrt(d);
                m = Math.max(m, s[t]);
            }
            double l = 0;
            for (int t = 0; t < tokens; t++) {
                double p = Math.exp(s[t] - m);
                l += p;
                for (int c = 0; c < d; c++) {
                    out[h][c] += p * v.getAtIndex(ValueLayout.JAVA_FLOAT, ((long) t * shape.kvHeads() + kv) * d + c);
                }
            }
            for (int c = 0; c < d; c++) {
                out[h][c] /= l;
            }
        }
        return out;
    }
}
