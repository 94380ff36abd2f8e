package io.vidkv.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a user sees for bad input: every runtime user error is one line on stderr,
 * {@code vidkv <command>: <flag and problem>}, exit code 2, nothing on stdout (the command did no
 * work), and a stack trace only with {@code --verbose}. Valid small runs of each command exit 0.
 * The commands run in-process through {@link VidkvCommand#commandLine()}, as {@code main} runs them.
 */
class CliInputTest {

    /** The .npy sample shipped in the jar's resources, read as a directory: 12 heads x 32 = 384 channels. */
    private static final String NPY_DIR = "src/main/resources/io/vidkv/eval/minilm";

    record Run(int code, String out, String err) {
        /**
         * stderr's lines, without the "INFO: Instrumented <class> ..." lines the Jazzer agent of the
         * fuzz tests prints into the same test JVM when a class loads for the first time.
         */
        List<String> errLines() {
            return err.lines().filter(l -> !l.isBlank() && !l.startsWith("INFO: Instrumented ")).toList();
        }
    }

    static Run run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = VidkvCommand.commandLine().execute(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    /** Exit 2, exactly one stderr line that starts with the command and contains every fragment, no stdout. */
    static void assertUserError(Run r, String command, String... fragments) {
        String all = "exit " + r.code() + "\nstdout:\n" + r.out() + "\nstderr:\n" + r.err();
        assertEquals(2, r.code(), all);
        assertEquals(1, r.errLines().size(), "one line on stderr\n" + all);
        String line = r.errLines().getFirst();
        assertTrue(line.startsWith("vidkv " + command + ": "), all);
        for (String f : fragments) {
            assertTrue(line.contains(f), "'" + f + "' in the message\n" + all);
        }
        assertFalse(line.contains("Exception"), "no exception type in a user error\n" + all);
        assertEquals("", r.out(), "no work started\n" + all);
    }

    static Stream<Arguments> userErrors() {
        return Stream.of(
                // eval: sizes
                Arguments.of("eval --frames 0", new String[]{"--frames must be at least 1, got 0"}),
                Arguments.of("eval --frames -3", new String[]{"--frames must be at least 1, got -3"}),
                Arguments.of("eval --frames 1", new String[]{"--frames 1 gives 210 cached tokens",
                        "fp16 writes its first block at 256 tokens (residual window R 128 + 4 calibration groups x G 32)",
                        "use --frames 2 or more"}),
                Arguments.of("eval --frames 1 --presets vidkv-1.5/1.58-compact", new String[]{
                        "vidkv-1.5/1.58-compact writes its first block at 256 tokens (residual window R 128 + 2 calibration groups x G 64)"}),
                Arguments.of("eval --frames 2000000000", new String[]{"--frames 2000000000 gives 392000000014 cached tokens",
                        "more than a cache holds"}),
                Arguments.of("eval --frames 1000000", new String[]{"--frames 1000000 with --queries 8 would need about", "GiB"}),
                Arguments.of("eval --queries -1", new String[]{"--queries must be at least 1, got -1"}),
                Arguments.of("eval --queries 0", new String[]{"--queries must be at least 1, got 0"}),
                Arguments.of("eval --frames 2 --queries 407", new String[]{"--queries 407 is more than the 406 cached tokens"}),
                Arguments.of("eval --data minilm --queries 513", new String[]{"--queries 513 is more than the 512 tokens of --data minilm"}),
                Arguments.of("eval --head-dim 0", new String[]{"--head-dim must be a multiple of 8", "got 0"}),
                Arguments.of("eval --head-dim 12", new String[]{"--head-dim must be a multiple of 8", "got 12"}),
                Arguments.of("eval --data " + NPY_DIR + " --head-dim 40", new String[]{"--data " + NPY_DIR + " (--head-dim 40)",
                        "heads x 40"}),
                Arguments.of("eval --threads 0", new String[]{"--threads must be between 1 and 1024, got 0"}),
                Arguments.of("eval --threads 100000", new String[]{"--threads must be between 1 and 1024, got 100000"}),
                Arguments.of("eval --layers 99", new String[]{"--layers: layer 99 is out of range", "layers 0 to 27"}),
                Arguments.of("eval --layers 3,3", new String[]{"--layers lists layer 3 twice"}),
                Arguments.of("eval --presets nope", new String[]{"--presets: unknown preset 'nope'", "kivi-2"}),
                Arguments.of("eval --data /nonexistent", new String[]{"--data /nonexistent: no such directory"}),
                Arguments.of("eval --data /nonexistent.safetensors", new String[]{"--data /nonexistent.safetensors: no such file"}),
                // picocli's own parse errors get the same one-line treatment
                Arguments.of("eval --frames abc", new String[]{"Invalid value for option '--frames': 'abc' is not an int"}),
                Arguments.of("eval --frame 2", new String[]{"Unknown option", "did you mean --frames"}),
                // memory
                Arguments.of("memory --tokens -5", new String[]{"--tokens must be between 1 and", "got -5"}),
                Arguments.of("memory --tokens 0", new String[]{"--tokens must be between 1 and", "got 0"}),
                Arguments.of("memory --tokens 2000000000", new String[]{"--tokens 2000000000 would need about", "GiB",
                        "K/V input", "physical memory"}),
                Arguments.of("memory --tokens 2147483647", new String[]{"--tokens must be between 1 and 2147483519"}),
                Arguments.of("memory --layers 0", new String[]{"--layers must be at least 1, got 0"}),
                Arguments.of("memory --threads 0", new String[]{"--threads must be between 1 and 1024, got 0"}),
                Arguments.of("memory --presets nope", new String[]{"--presets: unknown preset 'nope'"}),
                // fidelity: the minimum is the largest first-block threshold of the presets run
                Arguments.of("fidelity --tokens 0", new String[]{"--tokens must be at least 256, got 0",
                        "fp16 writes its first block at 256 tokens"}),
                Arguments.of("fidelity --tokens -1", new String[]{"--tokens must be at least 256, got -1"}),
                Arguments.of("fidelity --tokens 10", new String[]{"--tokens must be at least 256, got 10"}),
                Arguments.of("fidelity --tokens 255 --presets kivi-2", new String[]{"--tokens must be at least 256, got 255",
                        "kivi-2 writes its first block at 256 tokens"}),
                Arguments.of("fidelity --tokens 100000000", new String[]{"--tokens 100000000 would need about"}),
                Arguments.of("fidelity --presets nope", new String[]{"--presets: unknown preset 'nope'"}),
                // replay
                Arguments.of("replay --steps 0", new String[]{"--steps must be at least 1, got 0"}),
                Arguments.of("replay --steps 20", new String[]{"--steps (20) must be more than --warmup (32)"}),
                Arguments.of("replay --warmup -1", new String[]{"--warmup must be at least 0, got -1"}),
                Arguments.of("replay --frames 0", new String[]{"--frames must be at least 1, got 0"}),
                Arguments.of("replay --frames 1 --steps 500", new String[]{"--steps 500 must be fewer than the data's 210 tokens"}),
                Arguments.of("replay --frames 100000", new String[]{"--frames 100000 x --layers 28 x --sequences 1 would need about"}),
                Arguments.of("replay --sequences 0", new String[]{"--sequences must be between 1 and 1024, got 0"}),
                Arguments.of("replay --threads 0", new String[]{"--threads must be between 1 and 1024, got 0"}),
                Arguments.of("replay --layers 0", new String[]{"--layers must be at least 1, got 0"}),
                Arguments.of("replay --presets nope", new String[]{"--presets: unknown preset 'nope'"}),
                Arguments.of("replay --data /nonexistent", new String[]{"--data /nonexistent: no such directory"}),
                // soak
                Arguments.of("soak --capacity 0", new String[]{"--capacity must be at least 256, got 0",
                        "vidkv-1.5/1.58 writes its first block at 256 tokens"}),
                Arguments.of("soak --capacity 255", new String[]{"--capacity must be at least 256, got 255"}),
                Arguments.of("soak --capacity 2000000000 --tokens 0", new String[]{"--capacity 2000000000 with --layers 2",
                        "would need about"}),
                Arguments.of("soak --tokens -1", new String[]{"--tokens must be at least 0, got -1"}),
                Arguments.of("soak --tokens 1000", new String[]{"--tokens 1000 ends within the warm-up", "2 x --capacity 2048"}),
                Arguments.of("soak --tokens 0 --sequences 0 --fork-ops 0",
                        new String[]{"--tokens 0, --sequences 0 and --fork-ops 0 leave nothing to run"}),
                Arguments.of("soak --fork-ops -1", new String[]{"--fork-ops must be at least 0, got -1"}),
                Arguments.of("replay --questions -1", new String[]{"--questions must be between 0 and 1024, got -1"}),
                Arguments.of("soak --sequences -1", new String[]{"--sequences must be at least 0, got -1"}),
                Arguments.of("soak --layers 0", new String[]{"--layers must be at least 1, got 0"}),
                Arguments.of("soak --query-heads 6", new String[]{"--query-heads (6) must be a multiple of --kv-heads (4)"}),
                Arguments.of("soak --kv-heads 0", new String[]{"--kv-heads must be at least 1, got 0"}),
                Arguments.of("soak --head-dim 0", new String[]{"--head-dim must be a multiple of 8", "got 0"}),
                Arguments.of("soak --threads 0", new String[]{"--threads must be between 1 and 1024, got 0"}),
                Arguments.of("soak --preset nope", new String[]{"--preset: unknown preset 'nope'"}),
                // selfcheck
                Arguments.of("selfcheck --fft-batch 0", new String[]{"--fft-batch must be at least 1, got 0"}),
                Arguments.of("selfcheck --context 0", new String[]{"--context must be at least 1, got 0"}),
                Arguments.of("selfcheck --context 2000000000", new String[]{"--fft-batch 4096 with --context 2000000000 would need about"}));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("userErrors")
    void userErrorIsOneLineNamingTheFlagWithExitCode2(String commandLine, String[] fragments) {
        String[] args = commandLine.split(" ");
        assertUserError(run(args), args[0], fragments);
    }

    @Test
    void outPointingAtAnExistingFileFailsBeforeTheRun(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("results"), "not a directory");
        assertUserError(run("eval", "--frames", "2", "--presets", "kivi-2", "--layers", "0", "--out", file.toString()), "eval",
                "--out " + file + " is an existing file");
        assertUserError(run("soak", "--short", "--out", file.toString()), "soak", "--out " + file + " is an existing file");
        assertEquals("not a directory", Files.readString(file), "the file is left alone");
    }

    @Test
    void verbosePrintsTheStackTraceAfterTheLineBeforeOrAfterTheSubcommand() {
        for (String[] args : List.of(new String[]{"--verbose", "eval", "--frames", "0"}, new String[]{"eval", "--frames", "0", "--verbose"})) {
            Run r = run(args);
            assertEquals(2, r.code(), r.err());
            assertEquals("vidkv eval: --frames must be at least 1, got 0", r.errLines().getFirst(), Arrays.toString(args));
            assertTrue(r.errLines().size() > 3 && r.err().contains("\tat "), "a stack trace follows\n" + r.err());
        }
    }

    /** A failure during the work (not a user error): one line naming the exception, exit 1; --verbose adds the trace. */
    @Test
    void anUnexpectedFailureIsOneLineWithExitCode1() {
        @CommandLine.Command(name = "boom")
        class Boom implements Callable<Integer> {
            @Override
            public Integer call() throws IOException {
                throw new java.nio.file.NoSuchFileException("/tmp/gone");
            }
        }
        for (boolean verbose : new boolean[]{false, true}) {
            CommandLine cl = new CommandLine(new Boom());
            ErrorReporter errors = new ErrorReporter(() -> verbose);
            cl.setExecutionExceptionHandler(errors);
            java.io.StringWriter err = new java.io.StringWriter();
            cl.setErr(new java.io.PrintWriter(err, true));
            assertEquals(1, cl.execute());
            List<String> lines = err.toString().lines().toList();
            assertEquals("boom: NoSuchFileException: /tmp/gone" + (verbose ? "" : " (--verbose prints the stack trace)"), lines.getFirst());
            assertEquals(verbose, lines.size() > 1, err.toString());
        }
    }

    @Test
    void smallValidRunsExitZero(@TempDir Path dir) {
        Run eval = run("eval", "--frames", "2", "--presets", "kivi-2", "--layers", "0", "--queries", "2", "--threads", "1",
                "--out", dir.resolve("eval").toString());
        assertEquals(0, eval.code(), eval.err());
        assertTrue(eval.out().contains("kivi-2") && Files.isRegularFile(dir.resolve("eval/pareto.png")), eval.out());
        // the table says what it measured and what the numbers mean
        assertTrue(eval.out().contains("measured on synthetic video-LLM KV (2 frames"), eval.out());
        assertTrue(eval.out().contains("attn err = relative L2 error of the fused decode attention output vs float64 attention"),
                eval.out());
        assertTrue(eval.out().contains("/kivi-2"), eval.out());

        Run memory = run("memory", "--tokens", "100,300", "--presets", "kivi-2", "--layers", "1", "--threads", "1");
        assertEquals(0, memory.code(), memory.err());
        assertTrue(memory.out().contains("| kivi-2 | 100 | 2.00 | - |"), "no block yet: no effective bits\n" + memory.out());
        assertTrue(memory.out().contains("| kivi-2 | 300 |"), memory.out());

        Run fidelity = run("fidelity", "--tokens", "256", "--presets", "kivi-2");
        assertEquals(0, fidelity.code(), fidelity.err());
        assertTrue(fidelity.out().contains("| kivi-2 |"), fidelity.out());

        Run replay = run("replay", "--frames", "2", "--layers", "1", "--steps", "6", "--warmup", "2", "--presets", "kivi-2",
                "--threads", "1");
        assertEquals(0, replay.code(), replay.err());
        assertTrue(replay.out().contains("kivi-2"), replay.out());

        // the sequence phase alone: its checks do not depend on JIT warm-up, as the stream's heap check does
        Run soak = run("soak", "--tokens", "0", "--sequences", "12", "--fork-ops", "0", "--layers", "1", "--threads", "1", "--out",
                dir.resolve("soak").toString());
        assertEquals(0, soak.code(), soak.out() + soak.err());
        assertTrue(Files.isRegularFile(dir.resolve("soak/soak.png")), soak.out());
        Run forks = run("soak", "--tokens", "0", "--sequences", "0", "--fork-ops", "200", "--layers", "1", "--threads", "1",
                "--out", dir.resolve("soak-forks").toString());
        assertEquals(0, forks.code(), forks.out() + forks.err());
        assertTrue(forks.out().contains("ok   forks: pool references = pages the open sequences hold"), forks.out());

        Path file = dir.resolve("prefix.vkv");
        Run snapshot = run("snapshot", "--frames", "2", "--layers", "2", "--preset", "kivi-2", "--threads", "1", "--out",
                file.toString());
        assertEquals(0, snapshot.code(), snapshot.err());
        Run inspect = run("snapshot", "--inspect", file.toString());
        assertEquals(0, inspect.code(), inspect.err());
        assertTrue(inspect.out().contains("format version 2") && inspect.out().contains("checksums verified")
                && inspect.out().contains("kivi-2") && inspect.out().contains("PAGE"), inspect.out());
        assertTrue(inspect.out().contains("406"), "2 frames: 14 + 2 x 196 tokens\n" + inspect.out());
        Run questions = run("replay", "--questions", "2", "--question-tokens", "4", "--frames", "2", "--layers", "1", "--steps",
                "6", "--warmup", "2", "--repeats", "1", "--presets", "kivi-2", "--threads", "1");
        assertEquals(0, questions.code(), questions.err());
        assertTrue(questions.out().contains("time to first token: fork"), questions.out());
    }

    @Test
    void snapshotErrorsAreOneLine(@TempDir Path dir) throws IOException {
        Path bad = dir.resolve("bad.vkv");
        Files.write(bad, new byte[100]);
        Run r = run("snapshot", "--inspect", bad.toString());
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.errLines().getFirst().contains("not a vidkv snapshot"), r.err());
        assertUserError(run("snapshot", "--inspect", dir.resolve("missing").toString()), "snapshot", "no such file");
        assertUserError(run("snapshot", "--frames", "0", "--out", dir.resolve("x").toString()), "snapshot", "--frames");
    }
}
