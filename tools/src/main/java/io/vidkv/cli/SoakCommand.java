package io.vidkv.cli;

import io.vidkv.ModelShape;
import io.vidkv.Preset;
import io.vidkv.replay.SoakDriver;
import io.vidkv.replay.SoakReportWriter;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code vidkv soak}: a long streaming run and many short sequences; fails unless memory stays flat. */
@Command(name = "soak", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Stream tokens through one evicting sequence in decode steps, then run many short sequences through a",
                "shared pool; sample the pool, Native Memory Tracking (run the JVM with -XX:NativeMemoryTracking=summary,",
                "as scripts/soak.sh does) and the heap; exit 1 unless memory is flat after warm-up."})
final class SoakCommand implements Callable<Integer> {

    @Option(names = "--short", description = "The shortened CI run (24,000 tokens, 240 sequences) instead of the full one.")
    boolean shortRun;

    @Option(names = "--tokens", description = "Tokens to stream (default: 1,000,000; --short: 24,000); more than 2 x --capacity (the "
            + "warm-up), or 0 to skip the stream.")
    Long tokens;

    @Option(names = "--sequences", description = "Short sequences through the shared pool (default: 2,000; --short: 240; 0 skips them).")
    Integer sequences;

    @Option(names = "--fork-ops", description = "Random fork/append/evict/close operations on one pool (default: 20,000; --short: "
            + "2,000; 0 skips them).")
    Integer forkOps;

    @Option(names = "--capacity", description = "Capacity of the streaming sequence in tokens (default: ${DEFAULT-VALUE}; at least the "
            + "preset's residual window R + C x G, 256 for the default preset).")
    int capacity = 2048;

    @Option(names = "--preset", description = "Preset (default: ${DEFAULT-VALUE}).")
    String preset = Preset.VIDKV_15_158.id();

    @Option(names = "--layers", description = "Layers (default: ${DEFAULT-VALUE}).")
    int layers = 2;

    @Option(names = "--query-heads", description = "Query heads (default: ${DEFAULT-VALUE}).")
    int queryHeads = 8;

    @Option(names = "--kv-heads", description = "KV heads (default: ${DEFAULT-VALUE}).")
    int kvHeads = 4;

    @Option(names = "--head-dim", description = "Head dimension (default: ${DEFAULT-VALUE}).")
    int headDim = 128;

    @Option(names = "--threads", description = "Threads, 1 to 1024 (default: all cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--out", description = "Directory for soak.json, soak-samples.csv and soak.png (default: ${DEFAULT-VALUE}).")
    Path out = Path.of("soak-out");

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        SoakDriver.Options base = shortRun ? SoakDriver.Options.ci() : SoakDriver.Options.full();
        long streamTokens = tokens != null ? tokens : base.streamTokens();
        int seqs = sequences != null ? sequences : base.sequences();
        int forks = forkOps != null ? forkOps : base.forkOps();
        Checks.atLeast(spec, "--fork-ops", forks, 0);
        Preset p = Checks.presets(spec, "--preset", List.of(preset)).getFirst();
        ModelShape shape = Checks.shape(spec, layers, queryHeads, kvHeads, headDim);
        Checks.threads(spec, threads);
        checkRun(p, shape, streamTokens, seqs, forks, base);
        Checks.outputDirectory(spec, "--out", out);
        int sampleEvery = (int) Math.max(100, Math.min(base.sampleEvery(), streamTokens / 20));
        SoakDriver.Options o = new SoakDriver.Options(p, shape,
                capacity, streamTokens, seqs, base.maxSequenceTokens(), base.openSequences(), sampleEvery,
                (int) Math.max(1, Math.min(base.sequenceSampleEvery(), seqs / 10)), threads, base.seed(), forks);
        System.out.printf(Locale.ROOT, "soak: %s, %d layers x %d KV heads x d=%d (%d query heads); stream %,d tokens at capacity %,d "
                        + "(evict oldest), then %,d short sequences (<= %d open, <= %d tokens), then %,d fork/append/evict/close operations; "
                        + "%d thread(s)%n", o.preset().id(), layers, kvHeads, headDim, queryHeads, streamTokens, capacity, seqs,
                o.openSequences(), o.maxSequenceTokens(), forks, threads);
        SoakDriver.Report report;
        try (ProgressBar pb = new ProgressBarBuilder().setTaskName("soak").setInitialMax(streamTokens + seqs + forks)
                .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
                .build()) {
            report = SoakDriver.run(o, pb::stepTo);
        }
        if (!report.nmtEnabled()) {
            System.out.println("note: Native Memory Tracking is off; native memory is checked through the pool only "
                    + "(scripts/soak.sh turns NMT on)");
        }
        System.out.printf(Locale.ROOT, "stream: %.1f us per decode step (all layers), %d heap bytes per step after warm-up%n",
                report.streamStepMicros(), report.streamHeapBytesPerStep());
        for (SoakDriver.Check c : report.checks()) {
            System.out.printf("%-4s %s: %s%n", c.passed() ? "ok" : "FAIL", c.name(), c.detail());
        }
        SoakReportWriter.write(out, report);
        System.out.println("wrote " + out.resolve("soak.json") + ", soak-samples.csv and soak.png");
        return report.flat() ? 0 : 1;
    }

    /**
     * The stream must outlast its warm-up (SoakDriver: a fifth of the stream and at least two
     * capacities) or no check has a sample; a capacity below the preset's residual window cannot
     * take a single-token append once the window is full.
     */
    private void checkRun(Preset p, ModelShape shape, long streamTokens, int seqs, int forks, SoakDriver.Options base) {
        int window = p.layerConfig().windowCapacity();
        if (capacity < window) {
            throw Checks.error(spec, "--capacity must be at least " + window + ", got " + capacity + ": "
                    + Checks.firstBlock(p.id(), p.layerConfig()) + " and never evicts its residual window");
        }
        Checks.between(spec, "--capacity", capacity, window, Checks.MAX_TOKENS);
        Checks.atLeast(spec, "--tokens", streamTokens, 0);
        Checks.atLeast(spec, "--sequences", seqs, 0);
        if (streamTokens == 0 && seqs == 0 && forks == 0) {
            throw Checks.error(spec, "--tokens 0, --sequences 0 and --fork-ops 0 leave nothing to run");
        }
        if (streamTokens > 0 && streamTokens <= 2L * capacity) {
            throw Checks.error(spec, "--tokens " + streamTokens + " ends within the warm-up (two capacities, 2 x --capacity "
                    + capacity + " = " + 2L * capacity + " tokens), so nothing would be checked: stream more than "
                    + 2L * capacity + " tokens, or --tokens 0 to skip the stream");
        }
        double streamCache = Footprint.cacheNativeBytes(shape, p.layerConfig(), layers, capacity);
        double seqCache = Footprint.cacheNativeBytes(shape, p.layerConfig(), layers, base.maxSequenceTokens() + 64.0);
        new Footprint().offHeap("K/V buffer of 4,096 tokens", Footprint.inputBytes(shape, 1, 4096))
                .offHeap("streaming cache", streamCache)
                .offHeap(base.openSequences() + " open short sequences", seqs > 0 ? seqCache * base.openSequences() : 0)
                .heap("cache directories", Footprint.cacheHeapBytes(shape, p.layerConfig(), layers, capacity)
                        + base.openSequences() * Footprint.cacheHeapBytes(shape, p.layerConfig(), layers, base.maxSequenceTokens() + 64.0))
                .check(spec, "--capacity " + capacity + " with --layers " + layers + ", --kv-heads " + kvHeads + ", --head-dim " + headDim);
    }
}
