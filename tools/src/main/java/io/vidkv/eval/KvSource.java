package io.vidkv.eval;

import io.vidkv.ModelShape;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.stream.IntStream;

/** Where evaluation data come from: the synthetic generator, or real activations read from files. */
public interface KvSource {

    /** The model shape of the data (layers, heads, head dim). */
    ModelShape shape();

    /** One line for reports: what the data are. */
    String description();

    /** Cached tokens per layer. */
    int tokens();

    /**
     * Loads (or generates) layer {@code index} (0 to {@code shape().layers() - 1}) into segments of
     * {@code arena}; its {@link LayerData#layer()} is the layer's number, {@code layerNumbers().get(index)}.
     */
    LayerData layer(int index, Arena arena);

    /**
     * The layer numbers of the data, in index order: what reports label layers with and what
     * {@code --layers} names. Files may hold a subset of a model's layers (L1, L3, L4), so a number
     * need not equal its index; by default they are equal.
     */
    default List<Integer> layerNumbers() {
        return IntStream.range(0, shape().layers()).boxed().toList();
    }

    /** The query tokens attention is measured with, and how they see the cache. */
    Queries queries();

    /**
     * How attention is measured, for reports.
     *
     * @param tokens    query tokens per layer used (each with every query head)
     * @param available query tokens the data offer (at least {@code tokens}; the last {@code tokens} are used)
     * @param causal    whether a query sees only the cached tokens up to its position (otherwise all)
     * @param from      where the queries come from, e.g. "L<l>_query.npy" or "the last tokens' keys"
     */
    record Queries(int tokens, int available, boolean causal, String from) {

        /** "8 of 30 query tokens from layers.<l>.query x 28 heads, causal mask". */
        public String describe(int heads) {
            return (tokens == available ? tokens + "" : tokens + " of " + available) + " query tokens from " + from + " x " + heads
                    + " heads, " + (causal ? "causal mask (each sees the cached tokens up to its position)"
                    : "no mask (each sees every cached token)");
        }
    }

    /**
     * How real data are read: {@code null} fields are not given (the data's own description, or
     * the defaults, decide).
     *
     * @param headDim    channels per head of .npy data ({@code --head-dim}); default 32 when nothing else tells
     * @param queryHeads query heads of .npy data ({@code --query-heads})
     * @param kvHeads    KV heads of .npy data ({@code --kv-heads})
     * @param queries    query tokens per layer to evaluate ({@code --queries}); the last ones are used
     */
    record Options(Integer headDim, Integer queryHeads, Integer kvHeads, Integer queries) {

        /** Only the query tokens given. */
        public static Options queries(int queries) {
            return new Options(null, null, null, queries);
        }
    }

    /**
     * The real source named on a command line: {@code minilm} (the shipped sample), a
     * {@code .safetensors} file, or a directory of {@code .npy} files with heads of {@code headDim}.
     */
    static KvSource real(String data, int headDim, int queryTokens) throws java.io.IOException {
        return real(data, new Options(headDim, null, null, queryTokens));
    }

    /**
     * {@code source} evaluating the last {@code n} of its query tokens (for the synthetic data: a
     * question of {@code n} tokens).
     *
     * @throws IllegalArgumentException if the data have fewer than {@code n} query tokens
     */
    static KvSource withQueries(KvSource source, int n) {
        return switch (source) {
            case NpyLayerSource s -> s.withQueries(n);
            case SafetensorsSource s -> s.withQueries(n);
            case SyntheticVideoKv s -> new SyntheticVideoKv(s.spec().withQuestionTokens(n));
            default -> throw new IllegalArgumentException("cannot choose the query tokens of " + source.description());
        };
    }

    /** The real source named on a command line, read as {@code options} say. */
    static KvSource real(String data, Options options) throws java.io.IOException {
        if (data.equals("minilm")) {
            return NpyLayerSource.embeddedMiniLm(options.queries() == null ? NpyLayerSource.DEFAULT_QUERIES : options.queries());
        }
        java.nio.file.Path path = java.nio.file.Path.of(data);
        return data.endsWith(".safetensors") ? SafetensorsSource.open(path, options.queries())
                : NpyLayerSource.directory(path, options);
    }
}
