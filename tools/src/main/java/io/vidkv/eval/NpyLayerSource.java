package io.vidkv.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vidkv.ModelShape;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Real activations from {@code .npy} files, one triple per layer: {@code L<layer>_key.npy},
 * {@code L<layer>_value.npy} and optionally {@code L<layer>_query.npy} (for every layer or for
 * none), float32 or float16 in C order: keys and values [tokens, kvHeads x headDim], queries
 * [queryTokens, queryHeads x headDim] with queryTokens at most tokens (channel c belongs to head
 * c / headDim). queryHeads may be a multiple of kvHeads (grouped-query attention, e.g. 28 over 4).
 *
 * <p>The heads come from {@code --head-dim}, {@code --kv-heads} and {@code --query-heads} (any one
 * that splits the widths evenly decides the others), or from a {@code meta.json} beside the files:
 * <pre>{"query_heads": 28, "kv_heads": 4, "head_dim": 128, "query_positions": [3150, ..., 3179]}</pre>
 * ({@code "heads"} sets both head counts; every key is optional). With {@code query_positions} (one
 * per row of the query files, each in [0, tokens)) query i sees the cached tokens up to its position
 * (causal mask); without, every query sees every token (encoder activations such as
 * {@code ../shared/data/minilm-kv}). The last {@code queries} query rows are evaluated: by default
 * all rows when the query files hold fewer rows than tokens (the question's queries), else
 * {@link #DEFAULT_QUERIES}. Without query files the keys of the last tokens stand in for queries
 * (one per KV head). Nothing fits when the widths do not divide into heads: a
 * different query and key width with no head counts given is rejected, as the default head dim
 * would split them into wrong heads without any error.
 */
public final class NpyLayerSource implements KvSource {

    /** Query tokens evaluated when the query files hold one row per cached token and --queries is not given. */
    public static final int DEFAULT_QUERIES = 8;
    /** Head dim of .npy data when neither a flag nor meta.json tells it and keys and queries are equally wide. */
    public static final int DEFAULT_HEAD_DIM = 32;

    private static final Pattern FILE = Pattern.compile("L(\\d+)_key\\.npy");
    private static final String EMBEDDED = "/io/vidkv/eval/minilm/";
    private static final Set<String> META_KEYS = Set.of("heads", "query_heads", "kv_heads", "head_dim", "query_positions");

    private final Path dir;
    private final List<Integer> layers;
    private final ModelShape shape;
    private final int tokens;
    private final boolean hasQueries;
    private final int queryRows;
    private final int queryTokens;
    private final int[] queryPositions; // per query row, or null: no mask
    private final String description;

    private NpyLayerSource(Path dir, List<Integer> layers, ModelShape shape, int tokens, boolean hasQueries, int queryRows,
                           int queryTokens, int[] queryPositions, String description) {
        this.dir = dir;
        this.layers = List.copyOf(layers);
        this.shape = shape;
        this.tokens = tokens;
        this.hasQueries = hasQueries;
        this.queryRows = queryRows;
        this.queryTokens = queryTokens;
        this.queryPositions = queryPositions;
        this.description = description;
    }

    /** The files in {@code dir}; {@code headDim} splits the channels into heads (no grouped-query attention). */
    public static NpyLayerSource directory(Path dir, int headDim, int queryTokens) throws IOException {
        return directory(dir, new Options(headDim, null, null, queryTokens));
    }

    /** The files in {@code dir}, split into heads as {@code options} and a {@code meta.json} beside them say. */
    public static NpyLayerSource directory(Path dir, Options options) throws IOException {
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
        int withQueries = 0;
        for (int l : layers) {
            if (!Files.exists(dir.resolve("L" + l + "_value.npy"))) {
                throw new IllegalArgumentException("missing L" + l + "_value.npy in " + dir);
            }
            withQueries += Files.exists(dir.resolve("L" + l + "_query.npy")) ? 1 : 0;
        }
        if (withQueries != 0 && withQueries != layers.size()) {
            throw new IllegalArgumentException(withQueries + " of the " + layers.size() + " layers have an L<layer>_query.npy:"
                    + " give query files for every layer or for none (the keys then stand in)");
        }
        Path metaFile = dir.resolve("meta.json");
        JsonNode meta = null;
        if (Files.exists(metaFile)) {
            try {
                meta = new ObjectMapper().readTree(metaFile.toFile());
            } catch (IOException e) {
                throw new IllegalArgumentException("meta.json is not valid JSON: " + oneLine(e.getMessage()));
            }
        }
        int first = layers.getFirst();
        try (Arena a = Arena.ofConfined()) {
            NpyReader.Array k = NpyReader.read(dir.resolve("L" + first + "_key.npy"), a);
            NpyReader.Array q = withQueries == 0 ? null : NpyReader.read(dir.resolve("L" + first + "_query.npy"), a);
            return resolve(dir, layers, k, q, meta, options, "real activations from " + dir);
        }
    }

    /** The MiniLM sample shipped in the jar (layers 0, 2 and 5 of all-MiniLM-L6-v2, 512 tokens). */
    public static NpyLayerSource embeddedMiniLm(int queryTokens) {
        try (Arena a = Arena.ofConfined()) {
            NpyReader.Array k = NpyReader.parse(resource("L0_key.npy", a), "minilm/L0_key.npy", a);
            NpyReader.Array q = NpyReader.parse(resource("L0_query.npy", a), "minilm/L0_query.npy", a);
            return resolve(null, List.of(0, 2, 5), k, q, null, new Options(DEFAULT_HEAD_DIM, null, null, queryTokens),
                    "real activations: all-MiniLM-L6-v2 layers 0, 2, 5, 512 tokens (GPL-3.0 preamble), 12 heads x 32; "
                            + "see io/vidkv/eval/minilm/README.md");
        }
    }

    /**
     * The shape from the first layer's key (and query) arrays, the options and meta.json, each
     * fact checked against the others: every disagreement is one message naming both sides.
     */
    private static NpyLayerSource resolve(Path dir, List<Integer> layers, NpyReader.Array k, NpyReader.Array q, JsonNode meta,
                                          Options o, String description) {
        String kf = "L" + layers.getFirst() + "_key.npy", qf = "L" + layers.getFirst() + "_query.npy";
        if (k.shape().length != 2) {
            throw new IllegalArgumentException(kf + " has shape " + Arrays.toString(k.shape()) + "; expected [tokens, heads x head_dim]");
        }
        if (q != null && q.shape().length != 2) {
            throw new IllegalArgumentException(qf + " has shape " + Arrays.toString(q.shape())
                    + "; expected [query tokens, query heads x head_dim]");
        }
        long tokens = k.shape()[0], kvWidth = k.shape()[1];
        long qRows = q == null ? tokens : q.shape()[0], qWidth = q == null ? kvWidth : q.shape()[1];
        String widths = (q == null ? "" : qf + " is " + Arrays.toString(q.shape()) + ", ") + kf + " is " + Arrays.toString(k.shape());
        if (qRows > tokens) {
            throw new IllegalArgumentException(qf + " has " + qRows + " query rows, more than the " + tokens + " cached tokens of " + kf);
        }
        Integer metaD = null, metaQ = null, metaK = null;
        int[] positions = null;
        if (meta != null) {
            if (!meta.isObject()) {
                throw new IllegalArgumentException("meta.json must be an object with " + META_KEYS);
            }
            for (Iterator<String> it = meta.fieldNames(); it.hasNext(); ) {
                String key = it.next();
                if (!META_KEYS.contains(key)) { // a typo would otherwise be ignored and the defaults used
                    throw new IllegalArgumentException("meta.json has unknown key '" + key + "'; known: " + META_KEYS.stream().sorted().toList());
                }
            }
            metaD = metaInt(meta, "head_dim");
            Integer heads = metaInt(meta, "heads");
            metaQ = metaInt(meta, "query_heads");
            metaK = metaInt(meta, "kv_heads");
            if (heads != null && (metaQ != null || metaK != null)) {
                throw new IllegalArgumentException("meta.json gives heads and query_heads/kv_heads: give one or the other");
            }
            if (heads != null) {
                metaQ = heads;
                metaK = heads;
            }
            positions = metaPositions(meta, q != null, qRows, tokens, qf);
        }
        Integer d = agree("--head-dim", o.headDim(), "head_dim", metaD);
        Integer qh = agree("--query-heads", o.queryHeads(), "query_heads", metaQ);
        Integer kvh = agree("--kv-heads", o.kvHeads(), "kv_heads", metaK);
        if (d == null) {
            if (kvh != null) {
                d = (int) divide(kvWidth, kvh, "the key width", "KV heads", widths);
            } else if (qh != null) {
                d = (int) divide(qWidth, qh, "the query width", "query heads", widths);
            } else if (qWidth != kvWidth) {
                throw new IllegalArgumentException(widths + ": grouped-query data (query width " + qWidth + ", key width " + kvWidth
                        + "); give --head-dim, or --query-heads and --kv-heads, or a meta.json with head_dim");
            } else {
                d = DEFAULT_HEAD_DIM;
            }
        }
        long kvHeads = divide(kvWidth, d, "the key width", "head dim", widths);
        long queryHeads = divide(qWidth, d, "the query width", "head dim", widths);
        if (kvh != null && kvh != kvHeads) {
            throw new IllegalArgumentException(widths + ": " + kvh + " KV heads x head dim " + d + " is not the key width " + kvWidth);
        }
        if (qh != null && qh != queryHeads) {
            throw new IllegalArgumentException(widths + ": " + qh + " query heads x head dim " + d + " is not the query width " + qWidth);
        }
        if (queryHeads % kvHeads != 0) {
            throw new IllegalArgumentException(widths + ": " + queryHeads + " query heads of " + d + " are not a multiple of the "
                    + kvHeads + " KV heads (query heads share KV heads in equal groups)");
        }
        ModelShape shape;
        try {
            shape = new ModelShape(layers.size(), (int) queryHeads, (int) kvHeads, d);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(widths + ": unsupported heads: " + e.getMessage());
        }
        // one row per cached token: an encoder's (or a decoder's every position); fewer: the question's
        int n = o.queries() != null ? o.queries() : qRows < tokens ? (int) qRows : (int) Math.min(DEFAULT_QUERIES, qRows);
        return new NpyLayerSource(dir, layers, shape, (int) tokens, q != null, (int) qRows, (int) Math.min(n, qRows), positions,
                description).withQueries(n);
    }

    /**
     * This source evaluating the last {@code n} query tokens.
     *
     * @throws IllegalArgumentException if {@code n} is below 1 or above {@code queries().available()}
     */
    public NpyLayerSource withQueries(int n) {
        if (n < 1 || n > queryRows) {
            throw new IllegalArgumentException("--queries " + n + " is not between 1 and the " + queryRows + " query tokens of "
                    + (hasQueries ? "L<layer>_query.npy" : "the data (no query files: the keys of the cached tokens stand in)"));
        }
        return new NpyLayerSource(dir, layers, shape, tokens, hasQueries, queryRows, n, queryPositions, description);
    }

    private static Integer metaInt(JsonNode meta, String key) {
        JsonNode v = meta.get(key);
        if (v == null) {
            return null;
        }
        if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() < 1) {
            throw new IllegalArgumentException("meta.json: " + key + " must be a positive integer, got " + v);
        }
        return v.asInt();
    }

    private static int[] metaPositions(JsonNode meta, boolean hasQueries, long qRows, long tokens, String qf) {
        JsonNode p = meta.get("query_positions");
        if (p == null) {
            return null;
        }
        if (!hasQueries) {
            throw new IllegalArgumentException("meta.json gives query_positions but there are no L<layer>_query.npy files");
        }
        if (!p.isArray() || p.size() != qRows) {
            throw new IllegalArgumentException("meta.json: query_positions must be a list of " + qRows + " positions, one per row of "
                    + qf + ", got " + (p.isArray() ? p.size() + " entries" : p.getNodeType().toString().toLowerCase()));
        }
        int[] out = new int[p.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode x = p.get(i);
            if (!x.isIntegralNumber() || x.asLong() < 0 || x.asLong() >= tokens) {
                throw new IllegalArgumentException("meta.json: query_positions[" + i + "] is " + x + "; positions are 0 to "
                        + (tokens - 1) + " (the cached tokens)");
            }
            out[i] = x.asInt();
        }
        return out;
    }

    /** The flag's value, or meta.json's; both given must be equal. */
    private static Integer agree(String flag, Integer given, String key, Integer meta) {
        if (given != null && meta != null && !given.equals(meta)) {
            throw new IllegalArgumentException(flag + " " + given + " disagrees with meta.json's " + key + " " + meta);
        }
        return given != null ? given : meta;
    }

    private static long divide(long width, long by, String what, String byWhat, String widths) {
        if (by <= 0 || width % by != 0) {
            throw new IllegalArgumentException(widths + ": " + what + " " + width + " is not "
                    + (byWhat.equals("head dim") ? "heads x " + by : by + " " + byWhat + " x a head dim"));
        }
        return width / by;
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.strip().replaceAll("\\s*\\R\\s*", " ");
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
        return shape;
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public int tokens() {
        return tokens;
    }

    @Override
    public List<Integer> layerNumbers() {
        return layers;
    }

    /** The file layer numbers, in order: index i of this source is file layer fileLayers().get(i). */
    public List<Integer> fileLayers() {
        return layers;
    }

    @Override
    public Queries queries() {
        return new Queries(queryTokens, queryRows, queryPositions != null,
                hasQueries ? "L<layer>_query.npy" : "the last tokens' keys (no query files)");
    }

    @Override
    public LayerData layer(int index, Arena arena) {
        int l = layers.get(index);
        int d = shape.headDim();
        NpyReader.Array k = load("L" + l + "_key.npy", arena, tokens, (long) shape.kvHeads() * d);
        NpyReader.Array v = load("L" + l + "_value.npy", arena, tokens, (long) shape.kvHeads() * d);
        MemorySegment queries;
        if (hasQueries) {
            NpyReader.Array q = load("L" + l + "_query.npy", arena, queryRows, (long) shape.queryHeads() * d);
            long row = (long) shape.queryHeads() * d * 4;
            queries = q.data().asSlice((long) (queryRows - queryTokens) * row, (long) queryTokens * row);
        } else { // the last tokens' keys stand in: the shape has as many query heads as KV heads
            long row = (long) shape.kvHeads() * d * 4;
            queries = k.data().asSlice((long) (tokens - queryTokens) * row, (long) queryTokens * row);
        }
        int[] positions = new int[queryTokens];
        if (queryPositions != null) {
            System.arraycopy(queryPositions, queryRows - queryTokens, positions, 0, queryTokens);
        } else {
            Arrays.fill(positions, tokens - 1);
        }
        return new LayerData(l, tokens, k.data(), v.data(), queryTokens, queries, positions, null);
    }

    private NpyReader.Array load(String file, Arena arena, long rows, long width) {
        NpyReader.Array a = optional(file, arena);
        if (a == null) {
            throw new IllegalArgumentException("missing " + file + (dir == null ? " in the embedded sample" : " in " + dir));
        }
        if (a.shape().length != 2 || a.shape()[0] != rows || a.shape()[1] != width) {
            throw new IllegalArgumentException(file + " has shape " + Arrays.toString(a.shape()) + ", expected [" + rows + ", "
                    + width + "] like the first layer's");
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
