package io.vidkv.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vidkv.ModelShape;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;

/**
 * Real K/V/Q in a {@code .safetensors} file (the format HF tools write; {@code scripts/dump_kv.py}
 * produces it). Expected tensors, for every layer l:
 * <ul>
 *   <li>{@code layers.<l>.key}: [tokens, kvHeads, headDim], keys as cached (after RoPE);
 *   <li>{@code layers.<l>.value}: [tokens, kvHeads, headDim];
 *   <li>{@code layers.<l>.query} (optional): [queryTokens, queryHeads, headDim], the queries of the
 *       last queryTokens cached tokens (the question), each attending causally;
 *   <li>{@code layers.<l>.key_pre_rope} (optional, not used by the evaluation).
 * </ul>
 * dtype F32, F16 or BF16, little-endian. The header is validated before any data is read: its length
 * against the file, every tensor's dtype, shape (positive, no overflow), byte range (inside the data,
 * consistent with the shape) and that all layers agree on the shapes. Metadata key {@code description}
 * (optional) describes the data.
 */
public final class SafetensorsSource implements KvSource {

    static final long MAX_HEADER = 100L << 20;

    private record Tensor(String dtype, long[] shape, long begin, long end) {
    }

    private final Path file;
    private final Map<Integer, Map<String, Tensor>> layers;
    private final ModelShape shape;
    private final int tokens;
    private final int queryRows;
    private final boolean hasQueries;
    private final int queryTokens;
    private final long dataStart;
    private final String description;

    private SafetensorsSource(Path file, Map<Integer, Map<String, Tensor>> layers, ModelShape shape, int tokens, int queryRows,
                              boolean hasQueries, int queryTokens, long dataStart, String description) {
        this.file = file;
        this.layers = layers;
        this.shape = shape;
        this.tokens = tokens;
        this.queryRows = queryRows;
        this.hasQueries = hasQueries;
        this.queryTokens = queryTokens;
        this.dataStart = dataStart;
        this.description = description;
    }

    /**
     * Reads and validates the header of {@code file}; all query tokens of the file are evaluated
     * (without query tensors: the keys of the last {@link NpyLayerSource#DEFAULT_QUERIES} tokens).
     */
    public static SafetensorsSource open(Path file) throws IOException {
        return open(file, null);
    }

    /**
     * Reads and validates the header of {@code file}; the last {@code queries} query tokens are
     * evaluated, or as {@link #open(Path)} when null.
     *
     * @throws IllegalArgumentException if the file is malformed or has fewer query tokens than {@code queries}
     */
    public static SafetensorsSource open(Path file, Integer queries) throws IOException {
        SafetensorsSource s = read(file);
        return queries == null ? s : s.withQueries(queries);
    }

    private static SafetensorsSource read(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ); Arena a = Arena.ofConfined()) {
            long size = ch.size();
            if (size < 8) {
                throw bad(file, "is " + size + " bytes, shorter than the 8-byte header length");
            }
            MemorySegment m = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, a);
            long headerLen = m.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerLen <= 0 || headerLen > MAX_HEADER || headerLen > size - 8) {
                throw bad(file, "declares a header of " + headerLen + " bytes but has " + (size - 8) + " after the length field");
            }
            String json = new String(m.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            JsonNode root;
            try {
                root = new ObjectMapper().readTree(json);
            } catch (IOException e) {
                throw bad(file, "has a header that is not JSON: " + e.getMessage());
            }
            long dataStart = 8 + headerLen;
            long dataSize = size - dataStart;
            Map<Integer, Map<String, Tensor>> layers = new TreeMap<>();
            String description = "real activations from " + file;
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getKey().equals("__metadata__")) {
                    if (e.getValue().has("description")) {
                        description = e.getValue().get("description").asText() + " (" + file + ")";
                    }
                    continue;
                }
                String[] parts = e.getKey().split("\\.");
                if (parts.length != 3 || !parts[0].equals("layers")) {
                    continue; // other tensors are allowed and ignored
                }
                int layer;
                try {
                    layer = Integer.parseInt(parts[1]);
                } catch (NumberFormatException ex) {
                    throw bad(file, "has tensor '" + e.getKey() + "' whose layer is not a number");
                }
                layers.computeIfAbsent(layer, k -> new TreeMap<>()).put(parts[2], tensor(file, e.getKey(), e.getValue(), dataSize));
            }
            if (layers.isEmpty()) {
                throw bad(file, "has no layers.<l>.key / layers.<l>.value tensors");
            }
            long[] ks = null;
            long[] qs = null;
            for (Map.Entry<Integer, Map<String, Tensor>> l : layers.entrySet()) {
                Tensor k = l.getValue().get("key"), v = l.getValue().get("value"), q = l.getValue().get("query");
                if (k == null || v == null) {
                    throw bad(file, "layer " + l.getKey() + " lacks its key or value tensor");
                }
                if (k.shape().length != 3 || !java.util.Arrays.equals(k.shape(), v.shape())) {
                    throw bad(file, "layer " + l.getKey() + ": key " + java.util.Arrays.toString(k.shape()) + " and value "
                            + java.util.Arrays.toString(v.shape()) + " must both be [tokens, kvHeads, headDim]");
                }
                if (ks != null && !java.util.Arrays.equals(ks, k.shape())) {
                    throw bad(file, "layer " + l.getKey() + " has key shape " + java.util.Arrays.toString(k.shape())
                            + ", other layers " + java.util.Arrays.toString(ks));
                }
                ks = k.shape();
                if (q != null) {
                    if (q.shape().length != 3 || q.shape()[2] != ks[2] || q.shape()[1] % ks[1] != 0 || q.shape()[0] > ks[0]) {
                        throw bad(file, "layer " + l.getKey() + ": query shape " + java.util.Arrays.toString(q.shape())
                                + " must be [queryTokens <= tokens, a multiple of kvHeads, headDim]");
                    }
                }
                // every layer's queries are read with one shape: all layers have the same, or none has any
                long[] lqs = q == null ? null : q.shape();
                if (l.getKey() != layers.keySet().iterator().next().intValue() && !java.util.Arrays.equals(qs, lqs)) {
                    throw bad(file, "layer " + l.getKey() + " has query shape " + java.util.Arrays.toString(lqs)
                            + ", the first layer " + java.util.Arrays.toString(qs) + " (all layers need the same, or none)");
                }
                qs = lqs;
            }
            int queryHeads = qs == null ? (int) ks[1] : (int) qs[1];
            ModelShape shape;
            try {
                shape = new ModelShape(layers.size(), queryHeads, (int) ks[1], (int) ks[2]);
            } catch (IllegalArgumentException e) {
                throw bad(file, "has an unsupported shape: " + e.getMessage());
            }
            int rows = qs == null ? (int) ks[0] : (int) qs[0];
            int queryTokens = qs == null ? Math.min(NpyLayerSource.DEFAULT_QUERIES, rows) : rows;
            return new SafetensorsSource(file, layers, shape, (int) ks[0], rows, qs != null, queryTokens, dataStart, description);
        }
    }

    /**
     * This source evaluating the last {@code n} query tokens (each still at its own position).
     *
     * @throws IllegalArgumentException if {@code n} is below 1 or above {@code queries().available()}
     */
    public SafetensorsSource withQueries(int n) {
        if (n < 1 || n > queryRows) {
            throw bad(file, "has " + queryRows + (hasQueries ? " query tokens (layers.<l>.query)" : " tokens (no query tensors: their keys stand in)")
                    + "; --queries " + n + " is not between 1 and " + queryRows);
        }
        return new SafetensorsSource(file, layers, shape, tokens, queryRows, hasQueries, n, dataStart, description);
    }

    @Override
    public Queries queries() {
        return new Queries(queryTokens, queryRows, true, hasQueries ? "layers.<l>.query" : "the last tokens' keys (no query tensors)");
    }

    @Override
    public java.util.List<Integer> layerNumbers() {
        return java.util.List.copyOf(layers.keySet());
    }

    private static Tensor tensor(Path file, String name, JsonNode t, long dataSize) {
        String dtype = t.path("dtype").asText("");
        int item = switch (dtype) {
            case "F32" -> 4;
            case "F16", "BF16" -> 2;
            default -> throw bad(file, "tensor " + name + " has dtype '" + dtype + "'; expected F32, F16 or BF16");
        };
        JsonNode sh = t.path("shape"), off = t.path("data_offsets");
        if (!sh.isArray() || !off.isArray() || off.size() != 2) {
            throw bad(file, "tensor " + name + " lacks a shape or data_offsets [begin, end]");
        }
        long[] shape = new long[sh.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = sh.get(i).asLong(-1);
            if (shape[i] <= 0 || shape[i] > Integer.MAX_VALUE) {
                throw bad(file, "tensor " + name + " has an invalid dimension " + sh.get(i));
            }
            try {
                elements = Math.multiplyExact(elements, shape[i]);
            } catch (ArithmeticException e) {
                throw bad(file, "tensor " + name + " declares a shape too large");
            }
        }
        long begin = off.get(0).asLong(-1), end = off.get(1).asLong(-1);
        if (begin < 0 || end < begin || end > dataSize) {
            throw bad(file, "tensor " + name + " has data_offsets [" + begin + ", " + end + "] outside the " + dataSize
                    + " bytes of data: the file is truncated or the header lies");
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(elements, (long) item);
        } catch (ArithmeticException e) { // unchecked, elements x item wraps around and can match a small range
            throw bad(file, "tensor " + name + " declares a shape too large");
        }
        if (end - begin != bytes) {
            throw bad(file, "tensor " + name + " has " + (end - begin) + " bytes but shape " + java.util.Arrays.toString(shape)
                    + " of " + dtype + " needs " + elements * item);
        }
        return new Tensor(dtype, shape, begin, end);
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
    public LayerData layer(int index, Arena arena) {
        if (index < 0 || index >= layers.size()) {
            throw new IllegalArgumentException(file + ": layer index " + index + " out of range [0, " + layers.size() + ")");
        }
        int number = layerNumbers().get(index);
        Map<String, Tensor> l = layers.get(number);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ); Arena a = Arena.ofConfined()) {
            MemorySegment m = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), a);
            MemorySegment keys = load(m, l.get("key"), arena);
            MemorySegment values = load(m, l.get("value"), arena);
            MemorySegment queries;
            Tensor q = l.get("query");
            if (q != null) { // the last queryTokens rows: the query tensor holds the last queryRows tokens' queries
                long row = (long) shape.queryHeads() * shape.headDim() * 4;
                queries = load(m, q, arena).asSlice((long) (queryRows - queryTokens) * row, (long) queryTokens * row);
            } else { // no queries: the last tokens' keys stand in for them (one per KV head)
                long row = (long) shape.kvHeads() * shape.headDim() * 4;
                queries = keys.asSlice((tokens - queryTokens) * row, queryTokens * row);
            }
            int[] positions = new int[queryTokens];
            for (int i = 0; i < queryTokens; i++) {
                positions[i] = tokens - queryTokens + i;
            }
            return new LayerData(number, tokens, keys, values, queryTokens, queries, positions, null);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot read " + file, e);
        }
    }

    private MemorySegment load(MemorySegment m, Tensor t, Arena arena) {
        long n = (t.end() - t.begin()) / (t.dtype().equals("F32") ? 4 : 2);
        MemorySegment out = arena.allocate(n * 4, 64);
        long base = dataStart + t.begin();
        ValueLayout.OfShort s = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < n; i++) {
            float v = switch (t.dtype()) {
                case "F32" -> m.get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), base + 4 * i);
                case "F16" -> Float.float16ToFloat(m.get(s, base + 2 * i));
                default -> Float.intBitsToFloat((m.get(s, base + 2 * i) & 0xFFFF) << 16);
            };
            out.setAtIndex(ValueLayout.JAVA_FLOAT, i, v);
        }
        return out;
    }

    private static IllegalArgumentException bad(Path file, String what) {
        return new IllegalArgumentException("safetensors file " + file + " " + what);
    }
}
