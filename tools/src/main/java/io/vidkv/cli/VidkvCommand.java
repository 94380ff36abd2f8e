package io.vidkv.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code vidkv} command line: {@code scripts/vidkv <subcommand>}. */
@Command(name = "vidkv", mixinStandardHelpOptions = true, version = "vidkv 0.1.0",
        description = "Off-heap 1.x-bit KV cache for video LLMs (VidKV).",
        subcommands = {EvalCommand.class, ReplayCommand.class, InfoCommand.class, SelfCheckCommand.class, MemoryCommand.class, FidelityCommand.class, SoakCommand.class,
                CommandLine.HelpCommand.class})
public final class VidkvCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new VidkvCommand()).execute(args));
    }
}
