package io.vidkv.cli;

import io.vidkv.ModelShape;
import io.vidkv.Preset;
import io.vidkv.replay.SoakDriver;
import io.vidkv.replay.SoakReportWriter;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
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

    @Option(names = "--tokens", description = "Tokens to stream (default: 1,000,000; --short: 24,000).")
    Long tokens;

    @Option(names = "--sequences", description = "Short sequences through the shared pool (default: 2,000; --short: 240).")
    Integer sequences;

    @Option(names = "--capacity", description = "Capacity of the streaming sequence in tokens (default: ${DEFAULT-VALUE}).")
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

    @Option(names = "--threads", description = "Threads (default: all cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--out", description = "Directory for soak.json, soak-samples.csv and soak.png (default: ${DEFAULT-VALUE}).")
    Path out = Path.of("soak-out");

    @Override
    public Integer call() throws Exception {
        SoakDriver.Options base = shortRun ? SoakDriver.Options.ci() : SoakDriver.Options.full();
        long streamTokens = tokens != null ? tokens : base.streamTokens();
        int seqs = sequences != null ? sequences : base.sequences();
        int sampleEvery = (int) Math.max(100, Math.min(base.sampleEvery(), streamTokens / 20));
        SoakDriver.Options o = new SoakDriver.Options(Preset.byId(preset), new ModelShape(layers, queryHeads, kvHeads, headDim),
                capacity, streamTokens, seqs, base.maxSequenceTokens(), base.openSequences(), sampleEvery,
                (int) Math.max(1, Math.min(base.sequenceSampleEvery(), seqs / 10)), threads, base.seed());
        System.out.printf(Locale.ROOT, "soak: %s, %d layers x %d KV heads x d=%d (%d query heads); stream %,d tokens at capacity %,d "
                        + "(evict oldest), then %,d short sequences (<= %d open, <= %d tokens); %d thread(s)%n", o.preset().id(),
                layers, kvHeads, headDim, queryHeads, streamTokens, capacity, seqs, o.openSequences(), o.maxSequenceTokens(), threads);
        SoakDriver.Report report;
        try (ProgressBar pb = new ProgressBarBuilder().setTaskName("soak").setInitialMax(streamTokens + seqs)
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
}
