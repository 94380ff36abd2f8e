package io.vidkv.cli;

import io.vidkv.Preset;
import io.vidkv.eval.SyntheticVideoKv;
import io.vidkv.replay.QuestionsDriver;
import io.vidkv.replay.ReplayDriver;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code vidkv replay}: prefill and decode steps as an inference engine would, without weights. */
@Command(name = "replay", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Prefill every layer with the synthetic video-LLM K/V, then run decode steps (append one token and",
                "attend with all query heads, every layer); report step latency, prefill time, tokens/s, native memory,",
                "heap bytes per step and GCs during decode."})
final class ReplayCommand implements Callable<Integer> {

    @Option(names = "--data", description = "synthetic (default), minilm, a .safetensors dump or a directory of .npy files "
            + "(see eval --help); real data use all their layers.")
    String data = "synthetic";

    @Option(names = "--presets", split = ",", description = "Presets (default: ${DEFAULT-VALUE}).")
    List<String> presets = List.of("vidkv-1.5/1.58", "fp16");

    @Option(names = "--frames", description = "Video frames of context (default: ${DEFAULT-VALUE}; 196 tokens each).")
    int frames = 8;

    @Option(names = "--layers", description = "Model layers (default: ${DEFAULT-VALUE}, Qwen2-7B).")
    int layers = 28;

    @Option(names = "--steps", description = "Decode steps (default: ${DEFAULT-VALUE}; more than --warmup, fewer than the data's tokens).")
    int steps = 96;

    @Option(names = "--warmup", description = "Steps excluded from the statistics (default: ${DEFAULT-VALUE}).")
    int warmup = 32;

    @Option(names = "--sequences", description = "Concurrent sequences sharing one page pool (default: ${DEFAULT-VALUE}).")
    int sequences = 1;

    @Option(names = "--threads", description = "Threads, 1 to 1024 (default: all cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--questions", description = "Many questions on one video: prefill the data once, fork this many question "
            + "sequences from it (each its own --question-tokens, then --steps decode steps, on its own thread); report memory "
            + "held vs unshared sequences and time to first token for a fork, a fresh prefill and a snapshot restored mapped "
            + "and loaded (default: 0, the plain replay).")
    int questions = 0;

    @Option(names = "--question-tokens", description = "Tokens of each question with --questions (default: ${DEFAULT-VALUE}).")
    int questionTokens = 24;

    @Option(names = "--repeats", description = "Runs whose median --questions reports for each time (default: ${DEFAULT-VALUE}).")
    int repeats = 5;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        List<Preset> ps = Checks.presets(spec, "--presets", presets);
        Checks.atLeast(spec, "--steps", steps, 1);
        Checks.atLeast(spec, "--warmup", warmup, 0);
        if (steps <= warmup) {
            throw Checks.error(spec, "--steps (" + steps + ") must be more than --warmup (" + warmup
                    + "): the warm-up steps are excluded from the statistics");
        }
        Checks.between(spec, "--sequences", sequences, 1, Checks.MAX_THREADS); // one thread per sequence
        Checks.threads(spec, threads);
        Checks.atLeast(spec, "--layers", layers, 1);
        Checks.atLeast(spec, "--frames", frames, 1);
        SyntheticVideoKv.Spec base = SyntheticVideoKv.Spec.defaults().withFrames(frames).withQuestionTokens(8);
        io.vidkv.ModelShape s = base.shape();
        SyntheticVideoKv.Spec synthetic = new SyntheticVideoKv.Spec(new io.vidkv.ModelShape(layers, s.queryHeads(), s.kvHeads(), s.headDim()),
                base.frames(), base.tokensPerFrame(), base.systemTokens(), base.questionTokens(), base.ropeTheta(), base.mrope(),
                base.outlierChannels(), base.outlierScale(), base.valueTokenSigma(), base.valueChannelSigma(), base.frameSimilarity(),
                base.salientFraction(), base.queryFocus(), base.seed());
        io.vidkv.eval.KvSource source = switch (data) {
            case "synthetic" -> {
                long tokens = base.systemTokens() + (long) frames * base.tokensPerFrame();
                if (tokens > Checks.MAX_TOKENS) {
                    throw Checks.error(spec, "--frames " + frames + " gives " + tokens + " tokens, more than a cache holds ("
                            + Checks.MAX_TOKENS + ")");
                }
                yield new SyntheticVideoKv(synthetic);
            }
            default -> Checks.realData(spec, data, 32, 8, false);
        };
        layers = source.shape().layers();
        if (steps >= source.tokens()) {
            throw Checks.error(spec, "--steps " + steps + " must be fewer than the data's " + source.tokens()
                    + " tokens (the rest are the prefill)" + (data.equals("synthetic") ? ": use more --frames or fewer --steps" : ""));
        }
        Checks.between(spec, "--questions", questions, 0, Checks.MAX_THREADS); // one thread per question
        checkFootprint(source, ps);
        if (questions > 0) {
            return questions(source, ps);
        }
        System.out.printf("replay: %d layers, %d cached tokens, %d decode steps (%d warm-up), %d sequence(s), %d thread(s)%n",
                layers, source.tokens(), steps, warmup, sequences, threads);
        System.out.printf("%-24s %10s %9s %9s %12s %11s %11s %12s %5s%n", "preset", "prefill ms", "p50 ms", "p99 ms", "tokens/s",
                "native MiB", "heap B/step", "alloc steps", "GCs");
        for (Preset p : ps) {
            ReplayDriver.Report r = ReplayDriver.run(source, new ReplayDriver.Options(p, steps, warmup, sequences, threads));
            System.out.printf(Locale.ROOT, "%-24s %10.1f %9.2f %9.2f %12.1f %11.1f %11.1f %7d / %-4d %5d%n", r.preset(), r.prefillMs(),
                    r.stepP50Ms(), r.stepP99Ms(), r.decodeTokensPerSecond(), r.nativeBytes() / 1048576.0, r.heapBytesPerStep(),
                    r.stepsThatAllocated(), r.measuredSteps(), r.gcCountDuringDecode());
        }
        System.out.println("a step = append one token and attend all query heads, in every layer; prefill and native memory per sequence;");
        System.out.println("alloc steps = measured steps whose thread allocated any heap byte (ThreadMXBean)");
        return 0;
    }

    private int questions(io.vidkv.eval.KvSource source, List<Preset> ps) throws Exception {
        Checks.atLeast(spec, "--question-tokens", questionTokens, 1);
        Checks.atLeast(spec, "--repeats", repeats, 1);
        if (questionTokens + steps >= source.tokens()) {
            throw Checks.error(spec, "--question-tokens + --steps (" + (questionTokens + steps) + ") must be fewer than the data's "
                    + source.tokens() + " tokens");
        }
        System.out.printf(Locale.ROOT, "replay --questions: %d layers, a prefix of %d tokens prefilled once, %d questions of %d "
                        + "tokens + %d decode steps (%d warm-up) forked from it, one thread each; times: medians of %d runs%n",
                layers, source.tokens(), questions, questionTokens, steps, warmup, repeats);
        for (Preset p : ps) {
            QuestionsDriver.Report r = QuestionsDriver.run(source,
                    new QuestionsDriver.Options(p, questions, questionTokens, steps, warmup, repeats, threads));
            double mib = 1048576.0;
            System.out.printf(Locale.ROOT, "%s:%n", r.preset());
            System.out.printf(Locale.ROOT, "  memory: held %.1f MiB (pool pages once + every window) vs %d unshared sequences %.1f MiB"
                            + " (%.2fx less); one prefix %.1f MiB + the questions' own tokens %.1f MiB (unshared minus %d prefixes) = "
                            + "%.1f MiB -> held is %.2fx that; the prefix's window %.1f MiB, of which the forks still share "
                            + "%.1f MiB (summed over forks), the forks' private windows %.1f MiB%n", r.heldBytes() / mib, questions,
                    r.unsharedBytes() / mib, (double) r.unsharedBytes() / r.heldBytes(), r.prefixBytes() / mib, r.ownBytes() / mib,
                    questions, (r.prefixBytes() + r.ownBytes()) / mib, r.sharingRatio(), r.prefixWindowBytes() / mib,
                    r.sharedWindowBytes() / mib, r.forkPrivateWindowBytes() / mib);
            System.out.printf(Locale.ROOT, "  prefix: prefill %.1f ms, fork %.3f ms, save %.1f ms (%.1f MiB file), restore mapped %.2f ms"
                            + " (%.0fx faster than prefill), loaded %.1f ms%n", r.prefillMs(), r.forkMs(), r.saveMs(),
                    r.snapshotBytes() / mib, r.mappedRestoreMs(), r.prefillMs() / r.mappedRestoreMs(), r.loadedRestoreMs());
            System.out.printf(Locale.ROOT, "  time to first token: fork %.1f ms, fresh prefill %.1f ms, mapped snapshot %.1f ms, "
                    + "loaded snapshot %.1f ms%n", r.ttftForkMs(), r.ttftPrefillMs(), r.ttftMappedMs(), r.ttftLoadedMs());
            System.out.printf(Locale.ROOT, "  decode: %.1f heap bytes per step over %d measured steps (all questions), %d steps "
                    + "allocated%n", r.heapBytesPerDecodeStep(), r.measuredSteps(), r.stepsThatAllocated());
        }
        return 0;
    }

    /**
     * Every layer's K/V is loaded at once; each sequence holds a cache of all layers, and the
     * unmeasured warm-up pass holds the same again before it returns its pages to the pool.
     */
    private void checkFootprint(io.vidkv.eval.KvSource source, List<Preset> ps) {
        io.vidkv.ModelShape shape = source.shape();
        double n = source.tokens() + 64.0, cache = 0, directory = 0;
        for (Preset p : ps) {
            cache = Math.max(cache, Footprint.cacheNativeBytes(shape, p.layerConfig(), shape.layers(), n));
            directory = Math.max(directory, Footprint.cacheHeapBytes(shape, p.layerConfig(), shape.layers(), n));
        }
        new Footprint().offHeap("K/V of every layer", Footprint.inputBytes(shape, shape.layers(), source.tokens()))
                .offHeap(sequences + " sequence(s) x the largest preset's cache", cache * sequences)
                .heap("cache directories", directory * sequences)
                .check(spec, data.equals("synthetic") ? "--frames " + frames + " x --layers " + layers + " x --sequences " + sequences
                        : "--data " + data + " x --sequences " + sequences);
    }
}
