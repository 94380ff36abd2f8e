package io.vidkv.cli;

import io.vidkv.CacheConfig;
import io.vidkv.KvCache;
import io.vidkv.LayerConfig;
import io.vidkv.ModelShape;
import io.vidkv.ParallelRunner;
import io.vidkv.Preset;
import io.vidkv.SnapshotInfo;
import io.vidkv.eval.LayerData;
import io.vidkv.eval.SyntheticVideoKv;
import io.vidkv.replay.QuestionsDriver;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code vidkv snapshot}: write a snapshot of the synthetic video prefix, or describe a snapshot file. */
@Command(name = "snapshot", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Write a snapshot of the synthetic video prefix (system + --frames x 196 visual tokens, every layer",
                "prefilled with the preset) to --out, or describe a snapshot file with --inspect (header, layers, bits, sizes;",
                "every checksum is verified). The format is documented in the README, section \"Snapshots\"."})
final class SnapshotCommand implements Callable<Integer> {

    static final class Mode {
        @Option(names = "--out", description = "Write the snapshot to FILE (atomically: a temporary file, then a rename).")
        Path out;

        @Option(names = "--inspect", description = "Describe the snapshot FILE.")
        Path inspect;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Mode mode;

    @Option(names = "--frames", description = "Video frames of the prefix (default: ${DEFAULT-VALUE}; 196 tokens each).")
    int frames = 32;

    @Option(names = "--preset", description = "Preset (default: ${DEFAULT-VALUE}).")
    String preset = Preset.VIDKV_15_158.id();

    @Option(names = "--layers", description = "Model layers (default: ${DEFAULT-VALUE}, Qwen2-7B).")
    int layers = 28;

    @Option(names = "--capacity", description = "Capacity saved with the sequence, in tokens (default: the prefix plus 4,096).")
    Integer capacity;

    @Option(names = "--threads", description = "Threads for the prefill, 1 to 1024 (default: all cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (mode.inspect != null) {
            if (!Files.isRegularFile(mode.inspect)) {
                throw Checks.error(spec, "--inspect " + mode.inspect + ": no such file");
            }
            print(SnapshotInfo.inspect(mode.inspect));
            return 0;
        }
        Preset p = Checks.presets(spec, "--preset", List.of(preset)).getFirst();
        Checks.between(spec, "--frames", frames, 1, 1000);
        Checks.between(spec, "--layers", layers, 1, 1000);
        Checks.threads(spec, threads);
        Path parent = mode.out.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw Checks.error(spec, "--out " + mode.out + ": the directory " + parent + " does not exist");
        }
        SyntheticVideoKv.Spec base = SyntheticVideoKv.Spec.defaults().withFrames(frames);
        ModelShape s = base.shape();
        SyntheticVideoKv source = new SyntheticVideoKv(new SyntheticVideoKv.Spec(new ModelShape(layers, s.queryHeads(), s.kvHeads(),
                s.headDim()), base.frames(), base.tokensPerFrame(), base.systemTokens(), base.questionTokens(), base.ropeTheta(),
                base.mrope(), base.outlierChannels(), base.outlierScale(), base.valueTokenSigma(), base.valueChannelSigma(),
                base.frameSimilarity(), base.salientFraction(), base.queryFocus(), base.seed()));
        int tokens = source.tokens();
        int cap = capacity != null ? capacity : tokens + 4096;
        Checks.between(spec, "--capacity", cap, tokens, Checks.MAX_TOKENS);
        new Footprint().offHeap("K/V of every layer", Footprint.inputBytes(source.shape(), layers, tokens))
                .offHeap("the cache", Footprint.cacheNativeBytes(source.shape(), p.layerConfig(), layers, cap))
                .check(spec, "--frames " + frames + " x --layers " + layers);
        CacheConfig config = CacheConfig.of(source.shape(), p).withCapacity(cap);
        try (Arena arena = Arena.ofShared(); ParallelRunner runner = new ParallelRunner(threads);
             KvCache cache = KvCache.create(source.shape(), config, runner)) {
            List<LayerData> data = new ArrayList<>();
            for (int l = 0; l < layers; l++) {
                data.add(source.layer(l, arena));
            }
            long t0 = System.nanoTime();
            QuestionsDriver.prefill(cache, data, tokens);
            long t1 = System.nanoTime();
            cache.saveTo(mode.out);
            long t2 = System.nanoTime();
            System.out.printf(Locale.ROOT, "snapshot: %s, %d tokens x %d layers prefilled in %.1f ms, written to %s in %.1f ms%n",
                    p.id(), tokens, layers, (t1 - t0) / 1e6, mode.out, (t2 - t1) / 1e6);
        }
        print(SnapshotInfo.inspect(mode.out));
        return 0;
    }

    private static void print(SnapshotInfo info) {
        ModelShape s = info.shape();
        CacheConfig c = info.config();
        System.out.printf(Locale.ROOT, "%s: vidkv snapshot, format version %d, %,d bytes, checksums verified%n", info.file(),
                info.version(), info.fileBytes());
        System.out.printf(Locale.ROOT, "model: %d layers, %d query heads, %d KV heads, d = %d; pages of %,d bytes (%d in the file); "
                + "capacity %,d tokens (%s)%n", s.layers(), s.queryHeads(), s.kvHeads(), s.headDim(), c.pageBytes(), info.pages(),
                c.capacity().maxTokens(), c.capacity().onFull());
        System.out.printf("%-8s %12s %14s  %-8s%n", "section", "offset", "bytes", "crc32c");
        for (SnapshotInfo.Section sec : info.sections()) {
            System.out.printf(Locale.ROOT, "%-8s %12d %,14d  %08x%n", sec.tag(), sec.offset(), sec.length(), sec.crc32c());
        }
        long elements = 0;
        for (SnapshotInfo.Layer l : info.layers()) {
            elements += (long) (l.tokens() - l.evicted()) * s.tokenElements() * 2;
        }
        System.out.printf(Locale.ROOT, "file bits per cached K/V element: %.2f (pages, residual windows in float32 and metadata)%n",
                elements == 0 ? 0 : info.fileBytes() * 8.0 / elements);
        System.out.printf("%-6s %-26s %8s %10s %8s %13s%n", "layer", "config", "tokens", "quantized", "evicted", "nominal bits");
        for (SnapshotInfo.Layer l : info.layers()) {
            LayerConfig lc = c.layer(l.layer());
            String name = "custom";
            for (Preset p : Preset.values()) {
                if (p.layerConfig().equals(lc)) {
                    name = p.id();
                }
            }
            System.out.printf(Locale.ROOT, "%-6d %-26s %8d %10d %8d %13.2f%n", l.layer(), name, l.tokens(), l.quantized(), l.evicted(),
                    lc.nominalBits());
        }
    }
}
