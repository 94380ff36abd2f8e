package io.vidkv.cli;

import io.vidkv.LayerConfig;
import io.vidkv.ModelShape;
import io.vidkv.Preset;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Option checks the commands run before any work. Each failure is a picocli
 * {@link ParameterException} whose message names the flag, the rule and the value given, so the
 * user sees one line and exit code 2 (see {@link ErrorReporter}).
 */
final class Checks {

    /**
     * Most threads a command starts: {@code ParallelRunner} creates one platform thread per worker,
     * so a typo like {@code --threads 100000} would exhaust the process before any message.
     */
    static final int MAX_THREADS = 1024;

    /**
     * Most tokens per sequence: the library sizes a cache by {@code int} token counts, and the
     * commands ask for a little more capacity than the tokens they append (+64) and round up to
     * whole 64-token words (ProtectedTokens), so the last 128 values of {@code int} would overflow.
     */
    static final long MAX_TOKENS = Integer.MAX_VALUE - 128L;

    private Checks() {
    }

    static ParameterException error(CommandSpec spec, String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    static void atLeast(CommandSpec spec, String flag, long value, long min) {
        if (value < min) {
            throw error(spec, flag + " must be at least " + min + ", got " + value);
        }
    }

    static void between(CommandSpec spec, String flag, long value, long min, long max) {
        if (value < min || value > max) {
            throw error(spec, flag + " must be between " + min + " and " + max + ", got " + value);
        }
    }

    static void threads(CommandSpec spec, int threads) {
        between(spec, "--threads", threads, 1, MAX_THREADS);
    }

    /** The presets named by {@code ids}, or an error naming the flag and the known ids. */
    static List<Preset> presets(CommandSpec spec, String flag, List<String> ids) {
        if (ids == null || ids.isEmpty()) {
            throw error(spec, flag + " must name at least one preset; known: " + Preset.ids());
        }
        List<Preset> out = new ArrayList<>();
        for (String id : ids) {
            try {
                out.add(Preset.byId(id.strip()));
            } catch (IllegalArgumentException e) {
                throw error(spec, flag + ": " + e.getMessage());
            }
        }
        return out;
    }

    /** The model shape from the flags that set it, with ModelShape's rules named by flag. */
    static ModelShape shape(CommandSpec spec, int layers, int queryHeads, int kvHeads, int headDim) {
        atLeast(spec, "--layers", layers, 1);
        atLeast(spec, "--query-heads", queryHeads, 1);
        atLeast(spec, "--kv-heads", kvHeads, 1);
        headDim(spec, headDim);
        if (queryHeads % kvHeads != 0) {
            throw error(spec, "--query-heads (" + queryHeads + ") must be a multiple of --kv-heads (" + kvHeads
                    + "): query heads share KV heads in equal groups");
        }
        return new ModelShape(layers, queryHeads, kvHeads, headDim);
    }

    static void headDim(CommandSpec spec, int headDim) {
        if (headDim < 8 || headDim % 8 != 0 || headDim > ModelShape.MAX_HEAD_DIM) {
            throw error(spec, "--head-dim must be a multiple of 8 (codes are packed 8 channels a byte) from 8 to "
                    + ModelShape.MAX_HEAD_DIM + ", got " + headDim);
        }
    }

    /**
     * The first quantization of a layer waits for R + C x G tokens (the residual window plus the
     * calibration groups, {@link LayerConfig#windowCapacity()}); with fewer tokens nothing is
     * quantized and bits and errors would be measured on nothing. Returns the preset that needs
     * the most, for the message.
     */
    static Preset mostBuffered(List<Preset> presets) {
        Preset most = presets.getFirst();
        for (Preset p : presets) {
            if (p.layerConfig().windowCapacity() > most.layerConfig().windowCapacity()) {
                most = p;
            }
        }
        return most;
    }

    /** "kivi-2 writes its first block at 256 tokens (residual window R 128 + 4 calibration groups x G 32)". */
    static String firstBlock(String name, LayerConfig c) {
        return name + " writes its first block at " + c.windowCapacity() + " tokens (residual window R " + c.residual()
                + " + " + c.calibrationGroups() + " calibration groups x G " + c.groupSize() + ")";
    }

    /** An output directory must not be an existing file (checked first, before any input is read). */
    static void notAFile(CommandSpec spec, String flag, Path dir) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw error(spec, flag + " " + dir + " is an existing file; give a directory (it is created if missing)");
        }
    }

    /**
     * An output directory: an existing regular file is an error now, not after the run; the
     * directory is created now, so a path that cannot be created fails before the run too.
     */
    static void outputDirectory(CommandSpec spec, String flag, Path dir) {
        notAFile(spec, flag, dir);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw error(spec, flag + " " + dir + ": cannot create the directory (" + e.getClass().getSimpleName() + ": "
                    + e.getMessage() + ")");
        }
        if (!Files.isWritable(dir)) {
            throw error(spec, flag + " " + dir + " is not writable");
        }
    }

    /**
     * The real data a --data value names (minilm, a .safetensors file, a directory of .npy files);
     * a missing path and whatever the readers reject are reported against --data, and against
     * {@code --head-dim} too for .npy directories when the command has that flag.
     */
    static io.vidkv.eval.KvSource realData(CommandSpec spec, String data, int headDim, int queries, boolean headDimFlag)
            throws IOException {
        return realData(spec, data, new io.vidkv.eval.KvSource.Options(headDim, null, null, queries), headDimFlag);
    }

    /**
     * The real data a --data value names, read as {@code options} say; failures of a .npy
     * directory name the shape flags given ({@code --head-dim}, {@code --query-heads},
     * {@code --kv-heads}) when {@code shapeFlags}, as those decide how its files are split into heads.
     */
    static io.vidkv.eval.KvSource realData(CommandSpec spec, String data, io.vidkv.eval.KvSource.Options options,
                                           boolean shapeFlags) throws IOException {
        Path path = Path.of(data);
        boolean safetensors = data.endsWith(".safetensors");
        if (!data.equals("minilm") && (safetensors ? !Files.isRegularFile(path) : !Files.isDirectory(path))) {
            throw error(spec, "--data " + data + ": " + (safetensors ? "no such file" : "no such directory")
                    + "; use synthetic, minilm, a .safetensors file or a directory of L<layer>_{key,value}.npy files");
        }
        try {
            return io.vidkv.eval.KvSource.real(data, options);
        } catch (IllegalArgumentException | java.io.UncheckedIOException | IOException e) {
            boolean npy = !safetensors && !data.equals("minilm");
            List<String> given = new ArrayList<>();
            if (options.headDim() != null) {
                given.add("--head-dim " + options.headDim());
            }
            if (options.queryHeads() != null) {
                given.add("--query-heads " + options.queryHeads());
            }
            if (options.kvHeads() != null) {
                given.add("--kv-heads " + options.kvHeads());
            }
            throw error(spec, "--data " + data + (npy && shapeFlags && !given.isEmpty() ? " (" + String.join(" ", given) + ")" : "")
                    + ": " + e.getMessage());
        }
    }
}
