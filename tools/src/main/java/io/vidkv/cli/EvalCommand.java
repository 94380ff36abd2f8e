package io.vidkv.cli;

import io.vidkv.ParallelRunner;
import io.vidkv.Preset;
import io.vidkv.eval.Charts;
import io.vidkv.eval.Evaluator;
import io.vidkv.eval.KvSource;
import io.vidkv.eval.NpyLayerSource;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code vidkv eval}: compares presets (and the paper's experiments) on synthetic or real KV data. */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Quantize the data's K/V with each preset and report bits, reconstruction error and attention",
                "fidelity (relative L2 error of the fused kernel's output vs float64 attention on the original K/V,",
                "KL divergence of the attention distributions, top-32 recall of the most attended tokens)."})
final class EvalCommand implements Callable<Integer> {

    @Option(names = "--data", description = "synthetic (default: embedded generator, LLaVA-OV-7B shape), minilm (the shipped "
            + "real sample), a .safetensors file (layers.<l>.key/value [tokens, kvHeads, headDim], optional layers.<l>.query; "
            + "scripts/dump_kv.py writes it), or a directory of L<layer>_{key,value,query}.npy files [tokens, heads x head-dim] (heads from --head-dim, "
            + "--query-heads/--kv-heads or a meta.json beside them; README, \"Evaluation\").")
    String data = "synthetic";

    @Option(names = "--head-dim", description = "Head dimension of .npy data (default: from --kv-heads or --query-heads, "
            + "meta.json, else 32). Other data set their own; a value that differs is an error.")
    Integer headDim;

    @Option(names = "--query-heads", description = ".npy data: query heads (their L<layer>_query.npy width / head dim); "
            + "may be a multiple of --kv-heads (grouped-query attention).")
    Integer queryHeads;

    @Option(names = "--kv-heads", description = ".npy data: KV heads (the key width / head dim).")
    Integer kvHeads;

    @Option(names = "--presets", split = ",", description = "Presets to compare (default: all).")
    List<String> presets = Preset.ids();

    @Option(names = "--experiments", description = "Also run the paper's comparisons (values per channel vs per token, split "
            + "metric, FFT on/off, salient vs random protection at equal bits).")
    boolean experiments;

    @Option(names = "--layers", split = ",", description = "Layers to evaluate, by the data's layer numbers (default: 4 spread "
            + "over the model for synthetic data, all for real data).")
    List<Integer> layers;

    @Option(names = "--frames", description = "Synthetic: video frames (default: ${DEFAULT-VALUE}; 196 tokens each, at least 2: "
            + "with fewer the presets write no quantized block).")
    int frames = 32;

    @Option(names = "--mrope", description = "Synthetic: Qwen2.5-VL M-RoPE instead of 1-D RoPE.")
    boolean mrope;

    @Option(names = "--queries", description = "Query tokens per layer to evaluate attention with, the data's last ones (default: "
            + "8; for .safetensors queries and .npy query files shorter than the keys, all of them).")
    Integer queries;

    @Option(names = "--residual", description = "Residual window R of every preset, in tokens, 0 or more (default: each preset's "
            + "own, 128).")
    Integer residual;

    @Option(names = "--calibration-groups", description = "Calibration groups C of every preset, 1 or more, or 'all': every "
            + "prefill token the window hands over, C = (tokens - R) / G (default: each preset's own).")
    String calibrationGroups;

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
        List<Variant> asDefined = new ArrayList<>();
        for (Preset p : Checks.presets(spec, "--presets", presets)) {
            asDefined.add(Variant.of(p));
        }
        if (experiments) {
            asDefined.addAll(Variant.experiments());
        }
        Integer calibration = checkOptions();
        KvSource source = openSource();
        List<Variant> variants = applyProtocol(asDefined, source.tokens(), calibration);
        checkTokens(source, variants);
        List<Integer> numbers = source.layerNumbers();
        int modelLayers = source.shape().layers();
        List<Integer> ls = layers != null ? layers : data.equals("synthetic")
                ? List.of(0, modelLayers / 3, 2 * modelLayers / 3, modelLayers - 1) : numbers;
        List<Integer> indices = checkLayers(ls, numbers);
        checkFootprint(source, variants);
        if (out != null) {
            Checks.outputDirectory(spec, "--out", out);
        }
        KvSource.Queries q = source.queries();
        Map<String, Object> protocol = protocol(source, variants, ls, calibration);
        System.out.println("data: " + source.description());
        System.out.println("layers: " + ls + " of " + modelLayers + ", " + source.tokens() + " cached tokens, "
                + q.describe(source.shape().queryHeads()));
        System.out.println("protocol: " + protocol.get("summary"));
        List<Evaluator.Result> results;
        try (ParallelRunner runner = new ParallelRunner(threads);
             ProgressBar pb = new ProgressBarBuilder().setTaskName("eval").setInitialMax((long) variants.size() * ls.size())
                     .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
                     .build()) {
            results = new Evaluator(source, indices, runner, 32).run(variants, step -> {
                pb.setExtraMessage(step);
                pb.step();
            });
        }
        ResultsWriter.table(System.out, source.description(), results);
        if (out != null) {
            ResultsWriter.json(out.resolve("results.json"), source.description(), results, ls, protocol);
            ResultsWriter.csv(out.resolve("results.csv"), results);
            Charts.pareto(out.resolve("pareto.png"), results, source.description());
            Charts.memory(out.resolve("memory.png"), results, io.vidkv.ModelShape.QWEN2_7B, source.description());
            Charts.perLayer(out.resolve("per_layer.png"), results);
            System.out.println("wrote " + out.resolve("results.json") + ", results.csv, pareto.png, memory.png, per_layer.png");
        }
        return 0;
    }

    /**
     * Checks every option that needs no data; returns C from --calibration-groups (null: the
     * presets' own, {@link #ALL}: from the data's tokens).
     */
    private Integer checkOptions() {
        Checks.threads(spec, threads);
        if (queries != null) {
            Checks.atLeast(spec, "--queries", queries, 1);
        }
        if (headDim != null) {
            Checks.headDim(spec, headDim);
        }
        if (queryHeads != null) {
            Checks.atLeast(spec, "--query-heads", queryHeads, 1);
        }
        if (kvHeads != null) {
            Checks.atLeast(spec, "--kv-heads", kvHeads, 1);
        }
        if (residual != null) {
            Checks.between(spec, "--residual", residual, 0, io.vidkv.LayerConfig.MAX_WINDOW);
        }
        if (out != null) {
            Checks.notAFile(spec, "--out", out);
        }
        if (calibrationGroups == null) {
            return null;
        }
        if (calibrationGroups.strip().equalsIgnoreCase("all")) {
            return ALL;
        }
        int c;
        try {
            c = Integer.parseInt(calibrationGroups.strip());
        } catch (NumberFormatException e) {
            throw Checks.error(spec, "--calibration-groups must be a number of groups (1 or more) or 'all', got '"
                    + calibrationGroups + "'");
        }
        Checks.between(spec, "--calibration-groups", c, 1, io.vidkv.LayerConfig.MAX_WINDOW / io.vidkv.LayerConfig.DEFAULT_GROUP);
        return c;
    }

    /** --calibration-groups all. */
    private static final int ALL = -1;

    /**
     * Opens the data (reading only what tells their shape and length) with the query tokens asked
     * for, and checks the flags that must agree with them.
     */
    private KvSource openSource() throws java.io.IOException {
        KvSource source;
        if (data.equals("synthetic")) {
            Checks.atLeast(spec, "--frames", frames, 1);
            SyntheticVideoKv.Spec base = SyntheticVideoKv.Spec.defaults();
            long tokens = base.systemTokens() + (long) frames * base.tokensPerFrame();
            if (tokens > Checks.MAX_TOKENS) {
                throw Checks.error(spec, "--frames " + frames + " gives " + tokens + " cached tokens, more than a cache holds ("
                        + Checks.MAX_TOKENS + ")");
            }
            int nq = queries != null ? queries : NpyLayerSource.DEFAULT_QUERIES;
            if (nq > tokens) {
                throw Checks.error(spec, "--queries " + nq + " is more than the " + tokens + " cached tokens of --frames "
                        + frames + ": use at most " + tokens + " queries or more frames");
            }
            // the question's tokens are the queries
            source = new SyntheticVideoKv(base.withFrames(frames).withMrope(mrope).withSeed(seed).withQuestionTokens(nq));
        } else {
            source = Checks.realData(spec, data, new KvSource.Options(headDim, queryHeads, kvHeads, null), true);
            if (queries != null) {
                KvSource.Queries q = source.queries();
                if (queries > q.available()) {
                    throw Checks.error(spec, "--queries " + queries + " is more than the " + q.available()
                            + (q.available() == source.tokens() ? " tokens of --data " + data
                            : " query tokens of --data " + data + " (" + q.from() + ")"));
                }
                source = KvSource.withQueries(source, queries);
            }
        }
        io.vidkv.ModelShape shape = source.shape();
        String whose = data.equals("synthetic") ? "the synthetic data's" : "--data " + data + "'s";
        if (headDim != null && headDim != shape.headDim()) {
            throw Checks.error(spec, "--head-dim " + headDim + " differs from " + whose + " head dim " + shape.headDim()
                    + " (only .npy data are split into heads by the flags)");
        }
        if (queryHeads != null && queryHeads != shape.queryHeads()) {
            throw Checks.error(spec, "--query-heads " + queryHeads + " differs from " + whose + " " + shape.queryHeads()
                    + " query heads (only .npy data are split into heads by the flags)");
        }
        if (kvHeads != null && kvHeads != shape.kvHeads()) {
            throw Checks.error(spec, "--kv-heads " + kvHeads + " differs from " + whose + " " + shape.kvHeads()
                    + " KV heads (only .npy data are split into heads by the flags)");
        }
        return source;
    }

    /** Every variant with --residual and --calibration-groups applied (C = (tokens - R) / G for 'all'). */
    private List<Variant> applyProtocol(List<Variant> variants, int tokens, Integer calibration) {
        List<Variant> out = new ArrayList<>();
        for (Variant v : variants) {
            io.vidkv.LayerConfig c = v.config();
            int r = residual != null ? residual : c.residual();
            int groups = calibration == null ? c.calibrationGroups() : calibration == ALL ? (tokens - r) / c.groupSize() : calibration;
            if (groups < 1) {
                throw Checks.error(spec, "--calibration-groups all: the " + tokens + " tokens of the data less the residual window R "
                        + r + " hold no group of G " + c.groupSize() + " (" + v.name() + "); use a smaller --residual");
            }
            try {
                out.add(new Variant(v.name(), c.withResidual(r).withCalibrationGroups(groups), v.protection()));
            } catch (IllegalArgumentException e) {
                throw Checks.error(spec, "--residual " + r + " with " + groups + " calibration groups of G " + c.groupSize() + " ("
                        + v.name() + "): " + e.getMessage());
            }
        }
        return out;
    }

    /** The first quantization waits for R + C x G tokens: with fewer, nothing would be measured. */
    private void checkTokens(KvSource source, List<Variant> variants) {
        Variant most = variants.getFirst();
        for (Variant v : variants) {
            if (v.config().windowCapacity() > most.config().windowCapacity()) {
                most = v;
            }
        }
        int needed = most.config().windowCapacity();
        if (source.tokens() >= needed) {
            return;
        }
        String why = Checks.firstBlock(most.name(), most.config()) + ", so nothing would be measured";
        if (data.equals("synthetic")) {
            SyntheticVideoKv.Spec base = SyntheticVideoKv.Spec.defaults();
            long minFrames = (needed - base.systemTokens() + base.tokensPerFrame() - 1) / base.tokensPerFrame();
            throw Checks.error(spec, "--frames " + frames + " gives " + source.tokens() + " cached tokens, but " + why + ": use --frames "
                    + minFrames + " or more");
        }
        throw Checks.error(spec, "--data " + data + " has " + source.tokens() + " tokens, but " + why);
    }

    /**
     * What results depend on besides the data's values: R, C and G of every variant (grouped, the
     * most common first), where C came from, the queries and the page size; a one-line summary for
     * the header and the same facts as fields for results.json.
     */
    private Map<String, Object> protocol(KvSource source, List<Variant> variants, List<Integer> ls, Integer calibration) {
        Map<String, List<String>> byRcg = new LinkedHashMap<>();
        for (Variant v : variants) {
            io.vidkv.LayerConfig c = v.config();
            byRcg.computeIfAbsent("R " + c.residual() + ", C " + c.calibrationGroups() + ", G " + c.groupSize(), k -> new ArrayList<>())
                    .add(v.name());
        }
        List<Map.Entry<String, List<String>>> groups = new ArrayList<>(byRcg.entrySet());
        groups.sort((a, b) -> b.getValue().size() - a.getValue().size());
        StringBuilder summary = new StringBuilder(groups.getFirst().getKey());
        for (Map.Entry<String, List<String>> g : groups.subList(1, groups.size())) {
            summary.append("; ").append(g.getKey()).append(" for ").append(String.join(", ", g.getValue()));
        }
        String rFrom = residual != null ? "--residual" : "the presets' own";
        String cFrom = calibration == null ? "the presets' own" : calibration == ALL ? "--calibration-groups all: (tokens - R) / G"
                : "--calibration-groups";
        summary.append(" (residual window R from ").append(rFrom).append("; calibration groups C from ").append(cFrom)
                .append("); pages: the smallest that hold one block");
        KvSource.Queries q = source.queries();
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("summary", summary.toString());
        p.put("residual", residual != null ? (Object) residual : "preset");
        p.put("calibration_groups", calibration == null ? "preset" : calibration == ALL ? "all" : (Object) calibration);
        p.put("data", source.description());
        p.put("tokens", source.tokens());
        p.put("layers", ls);
        p.put("query_tokens", q.tokens());
        p.put("query_tokens_available", q.available());
        p.put("query_heads", source.shape().queryHeads());
        p.put("kv_heads", source.shape().kvHeads());
        p.put("head_dim", source.shape().headDim());
        p.put("queries_from", q.from());
        p.put("causal", q.causal());
        p.put("page_bytes", "the smallest page holding one block of the preset (at least 4096)");
        return p;
    }

    /** The indices of the data's layers numbered {@code ls}. */
    private List<Integer> checkLayers(List<Integer> ls, List<Integer> numbers) {
        if (ls.isEmpty()) {
            throw Checks.error(spec, "--layers must name at least one layer");
        }
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        List<Integer> indices = new ArrayList<>();
        boolean contiguous = numbers.equals(java.util.stream.IntStream.range(0, numbers.size()).boxed().toList());
        for (int l : ls) {
            int index = numbers.indexOf(l);
            if (index < 0) {
                throw Checks.error(spec, "--layers: layer " + l + " is out of range; the data have layers "
                        + (contiguous ? "0 to " + (numbers.size() - 1) : numbers.toString()));
            }
            if (!seen.add(l)) {
                throw Checks.error(spec, "--layers lists layer " + l + " twice");
            }
            indices.add(index);
        }
        return indices;
    }

    /** Per evaluated layer (one at a time): its K/V, the largest variant's cache, the metrics' float64 copies. */
    private void checkFootprint(KvSource source, List<Variant> variants) {
        io.vidkv.ModelShape shape = source.shape();
        io.vidkv.ModelShape one = new io.vidkv.ModelShape(1, shape.queryHeads(), shape.kvHeads(), shape.headDim());
        double n = source.tokens(), rows = (double) source.queries().tokens() * shape.queryHeads(), d = shape.headDim();
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
                .check(spec, (data.equals("synthetic") ? "--frames " + frames : "--data " + data) + " with --queries "
                        + source.queries().tokens());
    }
}
