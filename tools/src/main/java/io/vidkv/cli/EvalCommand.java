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
import picocli.CommandLine.Option;

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

    @Option(names = "--frames", description = "Synthetic: video frames (default: ${DEFAULT-VALUE}; 196 tokens each).")
    int frames = 32;

    @Option(names = "--mrope", description = "Synthetic: Qwen2.5-VL M-RoPE instead of 1-D RoPE.")
    boolean mrope;

    @Option(names = "--queries", description = "Query tokens per layer to evaluate attention with (default: ${DEFAULT-VALUE}).")
    int queries = 8;

    @Option(names = "--seed", description = "Synthetic data seed (default: ${DEFAULT-VALUE}).")
    long seed = 20250320L;

    @Option(names = "--threads", description = "Threads (default: all cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--out", description = "Directory for results.json, results.csv and the PNG charts.")
    Path out;

    @Override
    public Integer call() throws Exception {
        System.setProperty("java.awt.headless", "true");
        KvSource source = switch (data) {
            case "synthetic" -> new SyntheticVideoKv(SyntheticVideoKv.Spec.defaults().withFrames(frames).withMrope(mrope)
                    .withSeed(seed).withQuestionTokens(queries)); // the question's tokens are the queries
            default -> KvSource.real(data, headDim, queries);
        };
        int modelLayers = source.shape().layers();
        List<Integer> ls = layers != null ? layers : data.equals("synthetic")
                ? List.of(0, modelLayers / 3, 2 * modelLayers / 3, modelLayers - 1)
                : java.util.stream.IntStream.range(0, modelLayers).boxed().toList();
        List<Variant> variants = new ArrayList<>();
        for (String p : presets) {
            variants.add(Variant.of(Preset.byId(p)));
        }
        if (experiments) {
            variants.addAll(Variant.experiments());
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
        ResultsWriter.table(System.out, results);
        if (out != null) {
            Files.createDirectories(out);
            ResultsWriter.json(out.resolve("results.json"), source.description(), results, ls);
            ResultsWriter.csv(out.resolve("results.csv"), results);
            Charts.pareto(out.resolve("pareto.png"), results);
            Charts.memory(out.resolve("memory.png"), results, io.vidkv.ModelShape.QWEN2_7B);
            Charts.perLayer(out.resolve("per_layer.png"), results);
            System.out.println("wrote " + out.resolve("results.json") + ", results.csv, pareto.png, memory.png, per_layer.png");
        }
        return 0;
    }
}
