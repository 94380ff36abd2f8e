package io.vidkv.cli;

import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * How the CLI reports errors: one line on stderr, {@code vidkv <command>: <what is wrong>}, and a
 * stack trace only with {@code --verbose}. picocli's defaults print the usage help after a parse
 * error and a full stack trace after any exception from a command, which buries the message.
 *
 * <p>Exit codes: 2 for a user error (picocli's {@code exitCodeOnInvalidInput}): an option picocli
 * cannot parse, or a {@link ParameterException} a command throws from its checks before it starts
 * working; 1 ({@code exitCodeOnExecutionException}) for a failure during the work.
 */
final class ErrorReporter implements CommandLine.IParameterExceptionHandler, CommandLine.IExecutionExceptionHandler {

    private final BooleanSupplier verbose;

    ErrorReporter(BooleanSupplier verbose) {
        this.verbose = verbose;
    }

    @Override
    public int handleParseException(ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        StringBuilder line = new StringBuilder(prefix(cmd)).append(oneLine(ex.getMessage()));
        if (ex instanceof UnmatchedArgumentException unmatched) {
            List<String> suggestions = unmatched.getSuggestions();
            line.append(suggestions.isEmpty() ? "; '" + cmd.getCommandSpec().qualifiedName() + " --help' lists the options"
                    : " (did you mean " + String.join(" or ", suggestions) + "?)");
        }
        // --verbose is known here only when the parser reached it before the bad argument; a parse
        // error's stack trace is picocli's own and rarely wanted, so that is enough.
        report(cmd, line.toString(), ex);
        return cmd.getCommandSpec().exitCodeOnInvalidInput();
    }

    @Override
    public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parseResult) {
        String line = prefix(cmd) + describe(ex) + (verbose.getAsBoolean() ? "" : " (--verbose prints the stack trace)");
        report(cmd, line, ex);
        return cmd.getCommandSpec().exitCodeOnExecutionException();
    }

    private void report(CommandLine cmd, String line, Exception ex) {
        PrintWriter err = cmd.getErr();
        err.println(line);
        if (verbose.getAsBoolean()) {
            ex.printStackTrace(err);
        }
        err.flush();
    }

    private static String prefix(CommandLine cmd) {
        return cmd.getCommandSpec().qualifiedName() + ": ";
    }

    /**
     * The library's argument checks say what is wrong in their message; for other exceptions the
     * type is part of the message (a {@code NoSuchFileException}'s message is only the path).
     */
    private static String describe(Throwable ex) {
        if (ex instanceof UncheckedIOException && ex.getCause() != null) {
            ex = ex.getCause();
        }
        String message = ex.getMessage() == null ? "" : oneLine(ex.getMessage());
        if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException) {
            return message.isEmpty() ? ex.getClass().getSimpleName() : message;
        }
        return ex.getClass().getSimpleName() + (message.isEmpty() ? "" : ": " + message);
    }

    private static String oneLine(String message) {
        return message == null ? "" : message.strip().replaceAll("\\s*\\R\\s*", "; ");
    }
}
