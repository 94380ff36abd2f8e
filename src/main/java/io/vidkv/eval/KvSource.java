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
}
