package io.vidkv.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** The {@code vidkv} command line: {@code scripts/vidkv <subcommand>}. */
@Command(name = "vidkv", mixinStandardHelpOptions = true, version = "vidkv 0.1.0",
        description = "Off-heap 1.x-bit KV cache for video LLMs (VidKV).",
        subcommands = {EvalCommand.class, ReplayCommand.class, InfoCommand.class, SelfCheckCommand.class, MemoryCommand.class, FidelityCommand.class, SoakCommand.class,
                SnapshotCommand.class,
                CommandLine.HelpCommand.class})
public final class VidkvCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    // INHERIT: accepted before or after the subcommand name (vidkv --verbose eval, vidkv eval --verbose);
    // picocli binds the subcommands' copies to this same field.
    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "On an error, print the stack trace after the one-line message.")
    boolean verbose;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /**
     * The command line with vidkv's error handling: a user error (a bad option value, found by
     * picocli's parser or by a command's checks before it starts working) prints one line on stderr
     * and exits with 2; any other failure prints one line and exits with 1. {@code --verbose} adds
     * the stack trace.
     */
    public static CommandLine commandLine() {
        VidkvCommand root = new VidkvCommand();
        CommandLine cl = new CommandLine(root);
        ErrorReporter errors = new ErrorReporter(() -> root.verbose);
        cl.setParameterExceptionHandler(errors);
        cl.setExecutionExceptionHandler(errors);
        return cl;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
