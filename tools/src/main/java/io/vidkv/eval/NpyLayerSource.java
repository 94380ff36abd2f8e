package io.vidkv.eval;

import io.vidkv.ModelShape;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Real activations from {@code .npy} files, one triple per layer: {@code L<layer>_key.npy},
 * {@code L<layer>_value.npy} and optionally {@code L<layer>_query.npy}, each float32 [tokens,
 * heads x headDim] in C order (channel c belongs to head c / headDim), as in
 * {@code ../shared/data/minilm-kv}. Keys/values are read as kvHeads = heads (no grouped-query
 * attention); the queries of the last {@code queryTokens} tokens are the evaluation queries, each
 * seeing every token (these are encoder activations: no causal mask). Without query files, queries
 * are the keys of those tokens.
 */
public final class NpyLayerSource implements KvSource {

    private static final Pattern FILE = Pattern.compile("L(\\d+)_key\\.npy");
    private static final String EMBEDDED = "/io/vidkv/eval/minilm/";

    private final Path dir;
    private final List<Integer> layers;
    private final int heads;
    private final int headDim;
    private final int tokens;
    private final int queryTokens;
    private final String description;

    private NpyLayerSource(Path dir, List<Integer> layers, int heads, int headDim, int tokens, int queryTokens, String description) {
        this.dir = dir;
        this.layers = layers;
        this.heads = heads;
        this.headDim = headDim;
        this.tokens = tokens;
        this.queryTokens = queryTokens;
        this.description = description;
    }

    /** The files in {@code dir}; {@code headDim} splits the channels into heads. */
    public static NpyLayerSource directory(Path dir, int headDim, int queryTokens) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("data directory " + dir + " does not exist");
        }
        List<Integer> layers = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            files.forEach(f -> {
                Matcher m = FILE.matcher(f.getFileName().toString());
                if (m.matches()) {
                    layers.add(Integer.parseInt(m.group(1)));
                }
            });
        }
        if (layers.isEmpty()) {
            throw new IllegalArgumentException("no L<layer>_key.npy files in " + dir);
        }
        layers.sort(null);
        try (Arena a = Arena.ofConfined()) {
            NpyReader.Array k = NpyReader.read(dir.resolve("L" + layers.getFirst() + "_key.npy"), a);
            return fromFirst(dir, layers, k, headDim, queryTokens, "real activations from " + dir);
        }
    }

    /** The MiniLM sample shipped in the jar (layers 0, 2 and 5 of all-MiniLM-L6-v2, 512 tokens). */
    public static NpyLayerSource embeddedMiniLm(int queryTokens) {
        try (Arena a = Arena.ofConfined()) {
            NpyReader.Array k = NpyReader.parse(resource("L0_key.npy", a), "minilm/L0_key.npy", a);
            return fromFirst(null, List.of(0, 2, 5), k, 32, queryTokens,
                    "real activations: all-MiniLM-L6-v2 layers 0, 2, 5, 512 tokens (GPL-3.0 preamble), 12 heads x 32; "
                            + "see io/vidkv/eval/minilm/README.md");
        }
    }

    private static NpyLayerSource fromFirst(Path dir, List<Integer> layers, NpyReader.Array k, int headDim, int queryTokens,
                                            String description) {
        if (k.shape().length != 2 || k.shape()[1] % headDim != 0) {
            throw new IllegalArgumentException("expected keys of shape [tokens, heads x " + headDim + "], got "
                    + java.util.Arrays.toString(k.shape()));
        }
        int tokens = (int) k.shape()[0];
        int heads = (int) (k.shape()[1] / headDim);
        return new NpyLayerSource(dir, List.copyOf(layers), heads, headDim, tokens, Math.min(queryTokens, tokens), description);
    }

    private static MemorySegment resource(String file, Arena arena) {
        try (InputStream in = NpyLayerSource.class.getResourceAsStream(EMBEDDED + file)) {
            if (in == null) {
                throw new IllegalStateException("embedded sample " + EMBEDDED + file + " is missing from the jar");
            }
            byte[] b = in.readAllBytes();
            MemorySegment s = arena.allocate(b.length);
            MemorySegment.copy(b, 0, s, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, b.length);
            return s;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public ModelShape shape() {
        return new ModelShape(layers.size(), heads, heads, headDim);
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public int tokens() {
        return tokens;
    }

    /** The file layer numbers, in order: index i of this source is file layer layers().get(i). */
    public List<Integer> fileLayers() {
        return layers;
    }

    @Override
    public LayerData layer(int index, Arena arena) {
        int l = layers.get(index);
        NpyReader.Array k = load("L" + l + "_key.npy", arena);
        NpyReader.Array v = load("L" + l + "_value.npy", arena);
        checkSame(k, v, "L" + l + "_value.npy");
        MemorySegment queries;
        NpyReader.Array q = optional("L" + l + "_query.npy", arena);
        if (q != null) {
            checkSame(k, q, "L" + l + "_query.npy");
        }
        long row = (long) heads * headDim * 4;
        queries = (q != null ? q : k).data().asSlice((tokens - queryTokens) * row, queryTokens * row);
        int[] positions = new int[queryTokens];
        java.util.Arrays.fill(positions, tokens - 1);
        return new LayerData(index, tokens, k.data(), v.data(), queryTokens, queries, positions, null);
    }

    private void checkSame(NpyReader.Array k, NpyReader.Array other, String file) {
        if (!java.util.Arrays.equals(k.shape(), other.shape())) {
            throw new IllegalArgumentException(file + " has shape " + java.util.Arrays.toString(other.shape())
                    + ", the keys " + java.util.Arrays.toString(k.shape()));
        }
    }

    private NpyReader.Array load(String file, Arena arena) {
        NpyReader.Array a = optional(file, arena);
        if (a == null) {
            throw new IllegalArgumentException("missing " + file + (dir == null ? " in the embedded sample" : " in " + dir));
        }
        if (a.shape().length != 2 || a.shape()[0] != tokens || a.shape()[1] != (long) heads * headDim) {
            throw new IllegalArgumentException(file + " has shape " + java.util.Arrays.toString(a.shape()) + ", expected ["
                    + tokens + ", " + heads * headDim + "]");
        }
        return a;
    }

    private NpyReader.Array optional(String file, Arena arena) {
        try {
            if (dir == null) {
                if (NpyLayerSource.class.getResource(EMBEDDED + file) == null) {
                    return null;
                }
                return NpyReader.parse(resource(file, arena), "minilm/" + file, arena);
            }
            Path p = dir.resolve(file);
            return Files.exists(p) ? NpyReader.read(p, arena) : null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }
}
