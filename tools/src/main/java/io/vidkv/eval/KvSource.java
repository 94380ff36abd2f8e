package io.vidkv.eval;

import io.vidkv.ModelShape;

import java.lang.foreign.Arena;

/** Where evaluation data come from: the synthetic generator, or real activations read from files. */
public interface KvSource {

    /** The model shape of the data (layers, heads, head dim). */
    ModelShape shape();

    /** One line for reports: what the data are. */
    String description();

    /** Cached tokens per layer. */
    int tokens();

    /** Loads (or generates) {@code layer} into segments of {@code arena}. */
    LayerData layer(int layer, Arena arena);

    /**
     * The real source named on a command line: {@code minilm} (the shipped sample), a
     * {@code .safetensors} file, or a directory of {@code .npy} files with heads of {@code headDim}.
     */
    static KvSource real(String data, int headDim, int queryTokens) throws java.io.IOException {
        if (data.equals("minilm")) {
            return NpyLayerSource.embeddedMiniLm(queryTokens);
        }
        java.nio.file.Path path = java.nio.file.Path.of(data);
        return data.endsWith(".safetensors") ? SafetensorsSource.open(path) : NpyLayerSource.directory(path, headDim, queryTokens);
    }
}
