package io.vidkv.cli;

import io.vidkv.ParallelRunner;
import io.vidkv.Preset;
import io.vidkv.eval.Charts;
import io.vidkv.eval.Evaluator;
import io.vidkv.eval.KvSource;
import io.vidkv.eval.ResultsWriter;
import io.vidkv.eval.SyntheticVideoKv;
import io.vidkv.eval.Variant;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code vidkv eval}: compares presets (and the paper's experiments) on synthetic or real KV data. */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Quantize the data's K/V with each preset and report bits, reconstruction error and attention",
                "fidelity (relative L2 error of the fused kernel's output vs float64 attention on the original K/V,",
                "KL divergence of the attention distributions, top-32 recall of the most attended tokens)."})
final class EvalCommand implements Callable<Integer> {

    @Option(names = "--data", description = "synthetic (default: embedded generator, LLaVA-OV-7B shape), minilm (the shipped "
            + "real sample), a .safetensors file (layers.<l>.key/value [tokens, kvHeads, headDim], optional layers.<l>.query; "
            + "scripts/dump_kv.py writes it), or a directory of L<layer>_{key,value,query}.npy files [tokens, heads x head-dim].")
    String data = "synthetic";

    @Option(names = "--head-dim", description = "Head dimension of .npy data (default: ${DEFAULT-VALUE}).")
    int headDim = 32;

    @Option(names = "--presets", split = ",", description = "Presets to compare (default: all).")
    List<String> presets = Preset.ids();

    @Option(names = "--experiments", description = "Also run the paper's comparisons (values per channel vs per token, split "
            + "metric, FFT on/off, salient vs random protection).")
    boolean experiments;

    @Option(names = "--layers", split = ",", description = "Layers to evaluate (default: 4 spread over the model for synthetic "
            + "data, all for real data).")
    List<Integer> layers;

    @Option(names = "--frames", description = "Synthetic: video frames (default: ${DEFAULT-VALUE}; 196 tokens each, at least 2: "
            + "with fewer the presets write no quantized block).")
    int frames = 32;

    @Option(names = "--mrope", description = "Synthetic: Qwen2.5-VL M-RoPE instead of 1-D RoPE.")
    boolean mrope;

    @Option(names = "--queries", description = "Query tokens per layer to evaluate attention with (default: ${DEFAULT-VALUE}; at most the cached tokens).")
    int queries = 8;

    @Option(names = "--seed", description = "Synthetic data seed (default: ${DEFAULT-VALUE}).")
    long seed = 20250320L;

    @Option(names = "--threads", description = "Threads, 1 to 1024 (default: all cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--out", description = "Directory for results.json, results.csv and the PNG charts.")
    Path out;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        System.setProperty("java.awt.headless", "true");
        List<Variant> variants = new ArrayList<>();
        for (Preset p : Checks.presets(spec, "--presets", presets)) {
            variants.add(Variant.of(p));
        }
        if (experiments) {
            variants.addAll(Variant.experiments());
        }
        KvSource source = checkedSource(variants);
        int modelLayers = source.shape().layers();
        List<Integer> ls = layers != null ? layers : data.equals("synthetic")
                ? List.of(0, modelLayers / 3, 2 * modelLayers / 3, modelLayers - 1)
                : java.util.stream.IntStream.range(0, modelLayers).boxed().toList();
        checkLayers(ls, modelLayers);
        checkFootprint(source, variants);
        if (out != null) {
            Checks.outputDirectory(spec, "--out", out);
        }
        System.out.println("data: " + source.description());
        System.out.println("layers: " + ls + " of " + modelLayers + ", " + source.tokens() + " cached tokens, "
                + queries + " query tokens x " + source.shape().queryHeads() + " heads");
        List<Evaluator.Result> results;
        try (ParallelRunner runner = new ParallelRunner(threads);
             ProgressBar pb = new ProgressBarBuilder().setTaskName("eval").setInitialMax((long) variants.size() * ls.size())
                     .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
                     .build()) {
            results = new Evaluator(source, ls, runner, 32).run(variants, step -> {
                pb.setExtraMessage(step);
                pb.step();
            });
        }
        ResultsWriter.table(System.out, source.description(), results);
        if (out != null) {
            ResultsWriter.json(out.resolve("results.json"), source.description(), results, ls);
            ResultsWriter.csv(out.resolve("results.csv"), results);
            Charts.pareto(out.resolve("pareto.png"), results, source.description());
            Charts.memory(out.resolve("memory.png"), results, io.vidkv.ModelShape.QWEN2_7B, source.description());
            Charts.perLayer(out.resolve("per_layer.png"), results);
            System.out.println("wrote " + out.resolve("results.json") + ", results.csv, pareto.png, memory.png, per_layer.png");
        }
        return 0;
    }

    /**
     * Checks every option that needs no data, then opens the data (reading only what tells its
     * shape and length) and checks what depends on them, all before any evaluation work.
     */
    private KvSource checkedSource(List<Variant> variants) throws java.io.IOException {
        Checks.threads(spec, threads);
        Checks.atLeast(spec, "--queries", queries, 1);
        Checks.headDim(spec, headDim);
        if (out != null) {
            Checks.notAFile(spec, "--out", out);
        }
        Variant most = variants.getFirst();
        for (Variant v : variants) {
            if (v.config().windowCapacity() > most.config().windowCapacity()) {
                most = v;
            }
        }
        int needed = most.config().windowCapacity();
        if (data.equals("synthetic")) {
            Checks.atLeast(spec, "--frames", frames, 1);
            SyntheticVideoKv.Spec base = SyntheticVideoKv.Spec.defaults();
            long tokens = base.systemTokens() + (long) frames * base.tokensPerFrame();
            if (tokens > Checks.MAX_TOKENS) {
                throw Checks.error(spec, "--frames " + frames + " gives " + tokens + " cached tokens, more than a cache holds ("
                        + Checks.MAX_TOKENS + ")");
            }
            if (tokens < needed) {
                long minFrames = (needed - base.systemTokens() + base.tokensPerFrame() - 1) / base.tokensPerFrame();
                throw Checks.error(spec, "--frames " + frames + " gives " + tokens + " cached tokens, but "
                        + Checks.firstBlock(most.name(), most.config()) + ", so nothing would be measured: use --frames "
                        + minFrames + " or more");
            }
            if (queries > tokens) {
                throw Checks.error(spec, "--queries " + queries + " is more than the " + tokens + " cached tokens of --frames "
                        + frames + ": use at most " + tokens + " queries or more frames");
            }
            // the question's tokens are the queries
            return new SyntheticVideoKv(base.withFrames(frames).withMrope(mrope).withSeed(seed).withQuestionTokens(queries));
        }
        KvSource source = Checks.realData(spec, data, headDim, queries, true);
        if (source.tokens() < needed) {
            throw Checks.error(spec, "--data " + data + " has " + source.tokens() + " tokens, but "
                    + Checks.firstBlock(most.name(), most.config()) + ", so nothing would be measured");
        }
        if (queries > source.tokens()) {
            throw Checks.error(spec, "--queries " + queries + " is more than the " + source.tokens() + " tokens of --data " + data);
        }
        return source;
    }

    private void checkLayers(List<Integer> ls, int modelLayers) {
        if (ls.isEmpty()) {
            throw Checks.error(spec, "--layers must name at least one layer");
        }
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        for (int l : ls) {
            if (l < 0 || l >= modelLayers) {
                throw Checks.error(spec, "--layers: layer " + l + " is out of range; the data have layers 0 to " + (modelLayers - 1));
            }
            if (!seen.add(l)) {
                throw Checks.error(spec, "--layers lists layer " + l + " twice");
            }
        }
    }

    /** Per evaluated layer (one at a time): its K/V, the largest variant's cache, the metrics' float64 copies. */
    private void checkFootprint(KvSource source, List<Variant> variants) {
        io.vidkv.ModelShape shape = source.shape();
        io.vidkv.ModelShape one = new io.vidkv.ModelShape(1, shape.queryHeads(), shape.kvHeads(), shape.headDim());
        double n = source.tokens(), rows = (double) queries * shape.queryHeads(), d = shape.headDim();
        double cache = 0, directory = 0;
        for (Variant v : variants) {
            cache = Math.max(cache, Footprint.cacheNativeBytes(one, v.config(), 1, n + 64));
            directory = Math.max(directory, Footprint.cacheHeapBytes(one, v.config(), 1, n + 64));
        }
        new Footprint()
                .offHeap("one layer's K/V and queries", Footprint.inputBytes(shape, 1, n) + n * shape.queryHeads() * d * Float.BYTES)
                .offHeap("largest cache", cache)
                .heap("dequantized K/V for the error metrics", 2 * n * shape.kvHeads() * (d * 8 + 16))
                .heap("float64 reference attention", rows * (n * Float.BYTES + d * 8 + 32) + n * 8)
                .heap("cache directory", directory)
                .check(spec, data.equals("synthetic") ? "--frames " + frames + " with --queries " + queries
                        : "--data " + data + " with --queries " + queries);
    }
}
