package io.vidkv.fuzz;

import io.vidkv.InputType;
import io.vidkv.Preset;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Writes the seed corpora of the fuzz tests (committed under {@code src/test/resources}); rerun
 * after changing how a fuzz test decodes its input:
 * <pre>
 * java -cp target/test-classes:target/classes io.vidkv.fuzz.Seeds src/test/resources
 * </pre>
 * Files are named after what they exercise. Inputs the fuzzer found are added next to them by hand
 * (as {@code crash-*} files) and are not touched here.
 */
public final class Seeds {

    private Seeds() {
    }

    /** Emits bytes in the order {@link FuzzInput} reads them. */
    static final class Writer {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Writer u8(int v) {
            out.write(v);
            return this;
        }

        Writer u16(int v) {
            return u8(v & 0xFF).u8(v >>> 8 & 0xFF);
        }

        Writer i32(int v) {
            return u16(v & 0xFFFF).u16(v >>> 16);
        }

        Writer i64(long v) {
            return i32((int) v).i32((int) (v >>> 32));
        }

        Writer bool(boolean b) {
            return u8(b ? 1 : 0);
        }

        /** The value a {@code below(n)} call returns. */
        Writer below(int n, int v) {
            if (v < 0 || v >= n) {
                throw new IllegalArgumentException(v + " not below " + n);
            }
            return n <= 256 ? u8(v) : u16(v);
        }

        Writer f32(float f) {
            return i32(Float.floatToRawIntBits(f));
        }

        Writer f64(double f) {
            return i64(Double.doubleToRawLongBits(f));
        }

        Writer bytes(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        byte[] done() {
            return out.toByteArray();
        }
    }

    public static void main(String[] args) throws IOException {
        Path root = Path.of(args.length > 0 ? args[0] : "src/test/resources");
        write(root.resolve("io/vidkv/fuzz/NpyReaderFuzzTestInputs/parse"), npy());
        write(root.resolve("io/vidkv/fuzz/SafetensorsSourceFuzzTestInputs/open"), safetensors());
        write(root.resolve("io/vidkv/fuzz/ConfigFuzzTestInputs/presetById"), presetIds());
        write(root.resolve("io/vidkv/fuzz/ConfigFuzzTestInputs/layerConfig"), layerConfigs());
        write(root.resolve("io/vidkv/fuzz/KvCacheFuzzTestInputs/appendAndAttend"), caches());
        write(root.resolve("io/vidkv/nativelib/NativeManifestFuzzTestInputs/parse"), manifests());
        write(root.resolve("io/vidkv/fuzz/SnapshotReaderFuzzTestInputs/open"), snapshots());
    }

    // ---------------------------------------------------------------- snapshots

    /** A snapshot of a small sequence (1-2 layers, d = 16, 4 KiB pages), as saveTo writes it. */
    static byte[] snapshot(io.vidkv.LayerConfig layer, int layers, int tokens, io.vidkv.CapacityPolicy capacity,
                           int... protect) throws IOException {
        io.vidkv.ModelShape shape = new io.vidkv.ModelShape(layers, 2, 1, 16);
        io.vidkv.CacheConfig config = io.vidkv.CacheConfig.uniform(shape, layer).withPageBytes(4096).withCapacity(capacity);
        Path f = Files.createTempFile("vidkv-seed", ".vkv");
        SplittableRandom rnd = new SplittableRandom(tokens * 31L + layers);
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined();
             io.vidkv.KvCache cache = io.vidkv.KvCache.create(shape, config)) {
            cache.protect(protect);
            java.lang.foreign.MemorySegment k = io.vidkv.testing.KvData.keys(arena, rnd, tokens, 1, 16);
            java.lang.foreign.MemorySegment v = io.vidkv.testing.KvData.values(arena, rnd, tokens, 1, 16);
            for (int t = 0; t < tokens; t += 100) {
                int n = Math.min(100, tokens - t);
                for (int l = 0; l < layers; l++) {
                    cache.append(l, k.asSlice(t * 64L, n * 64L), v.asSlice(t * 64L, n * 64L), n, InputType.F32);
                }
            }
            cache.saveTo(f);
            return Files.readAllBytes(f);
        } finally {
            Files.deleteIfExists(f);
        }
    }

    private static byte[] control(int c, byte[] file) {
        byte[] b = new byte[file.length + 1];
        b[0] = (byte) c;
        System.arraycopy(file, 0, b, 1, file.length);
        return b;
    }

    static List<Seed> snapshots() throws IOException {
        List<Seed> s = new ArrayList<>();
        io.vidkv.CapacityPolicy cap = new io.vidkv.CapacityPolicy(1024);
        for (String id : new String[]{"vidkv-1.5/1.58", "vidkv-1.5/1.66-stp", "vidkv-1.5/1.58-compact", "kivi-2", "fp16",
                "vidkv-2"}) {
            byte[] f = snapshot(Preset.byId(id).layerConfig(), 1, 400, cap, id.contains("stp") ? new int[]{3, 9, 200} : new int[0]);
            String name = id.replace('/', '-').replace('.', '_');
            s.add(new Seed(name + "-loaded", control(0, f)));
            s.add(new Seed(name + "-mapped-fixcrc", control(3, f)));
        }
        s.add(new Seed("two-layers-evicted", control(1, snapshot(Preset.byId("vidkv-1.5/1.58").layerConfig(), 2, 1500,
                io.vidkv.CapacityPolicy.evictOldest(600)))));
        s.add(new Seed("window-only", control(2, snapshot(Preset.byId("vidkv-1.5/1.58").layerConfig(), 1, 50, cap))));
        s.add(new Seed("reference-loaded", control(1, snapshot(Preset.byId("vidkv-reference-1.5/1.58").layerConfig(), 1, 300,
                cap))));
        byte[] f = snapshot(Preset.byId("vidkv-1.5/1.58").layerConfig(), 1, 400, cap);
        s.add(new Seed("truncated", control(0, Arrays.copyOf(f, f.length / 2))));
        s.add(new Seed("header-only", control(1, Arrays.copyOf(f, 32))));
        byte[] v2 = f.clone();
        v2[8] = 2;
        s.add(new Seed("version-2", control(1, v2)));
        s.add(new Seed("empty", new byte[0]));
        return s;
    }

    private record Seed(String name, byte[] bytes) {
    }

    private static void write(Path dir, List<Seed> seeds) throws IOException {
        Files.createDirectories(dir);
        for (Seed s : seeds) {
            if (s.bytes.length > 64 * 1024) {
                throw new IllegalStateException(s.name + " is " + s.bytes.length + " bytes");
            }
            Files.write(dir.resolve(s.name), s.bytes);
        }
        System.out.println(dir + ": " + seeds.size() + " seeds");
    }

    // ---------------------------------------------------------------- .npy

    static byte[] npyFile(String header, int dataBytes, int version) {
        return io.vidkv.testing.NpyFiles.build(header, dataBytes, version, -3f);
    }

    private static String dict(String descr, String order, String shape) {
        return "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + shape + ", }";
    }

    static List<Seed> npy() {
        List<Seed> s = new ArrayList<>();
        s.add(new Seed("f4-3x4-v1", npyFile(dict("<f4", "False", "(3, 4)"), 48, 1)));
        s.add(new Seed("f4-2-v1", npyFile(dict("<f4", "False", "(2,)"), 8, 1)));
        s.add(new Seed("f4-1x1x8-v2", npyFile(dict("<f4", "False", "(1, 1, 8)"), 32, 2)));
        s.add(new Seed("f4-scalar-v1", npyFile(dict("<f4", "False", "()"), 4, 1)));
        s.add(new Seed("float32-2x3-v3", npyFile(dict("float32", "False", "(2, 3)"), 24, 3)));
        s.add(new Seed("f2-4x2-v1", npyFile(dict("<f2", "False", "(4, 2)"), 16, 1)));
        s.add(new Seed("f2-3-v2", npyFile(dict("<f2", "False", "(3,)"), 6, 2)));
        s.add(new Seed("extra-data-v1", npyFile(dict("<f4", "False", "(2,)"), 40, 1)));
        byte[] ok = npyFile(dict("<f4", "False", "(3, 4)"), 48, 1);
        s.add(new Seed("truncated-data", Arrays.copyOf(ok, ok.length - 5)));
        s.add(new Seed("truncated-header", Arrays.copyOf(ok, 40)));
        s.add(new Seed("truncated-preamble", Arrays.copyOf(ok, 9)));
        s.add(new Seed("dtype-i8", npyFile(dict("<i8", "False", "(3,)"), 24, 1)));
        s.add(new Seed("dtype-big-endian", npyFile(dict(">f4", "False", "(3,)"), 12, 1)));
        s.add(new Seed("fortran-order", npyFile(dict("<f4", "True", "(2, 2)"), 16, 1)));
        s.add(new Seed("no-descr", npyFile("{'fortran_order': False, 'shape': (2,), }", 8, 1)));
        s.add(new Seed("no-shape", npyFile("{'descr': '<f4', 'fortran_order': False, }", 8, 1)));
        s.add(new Seed("shape-negative", npyFile(dict("<f4", "False", "(2, -1)"), 8, 1)));
        s.add(new Seed("shape-zero", npyFile(dict("<f4", "False", "(0, 3)"), 0, 1)));
        s.add(new Seed("shape-not-integer", npyFile(dict("<f4", "False", "(2L, 3)"), 24, 1)));
        s.add(new Seed("shape-huge", npyFile(dict("<f4", "False", "(4000000000, 4000000000)"), 16, 1)));
        s.add(new Seed("shape-overflow", npyFile(dict("<f4", "False", "(9223372036854775807, 2)"), 16, 1)));
        // data bytes just below 2^63: the end of the data overflows a long
        s.add(new Seed("shape-data-end-overflows-f4", npyFile(dict("<f4", "False", "(2305843009213693951,)"), 16, 1)));
        s.add(new Seed("shape-data-end-overflows-f2", npyFile(dict("<f2", "False", "(4611686018427387903,)"), 16, 1)));
        byte[] lying = ok.clone();
        lying[8] = (byte) 0xFF;
        lying[9] = (byte) 0x7F;
        s.add(new Seed("header-length-lies", lying));
        byte[] v2lying = npyFile(dict("<f4", "False", "(2,)"), 8, 2);
        v2lying[11] = (byte) 0x80;
        s.add(new Seed("header-length-lies-v2", v2lying));
        byte[] v4 = ok.clone();
        v4[6] = 4;
        s.add(new Seed("version-4", v4));
        byte[] vneg = ok.clone();
        vneg[6] = (byte) 0xFF;
        s.add(new Seed("version-255", vneg));
        s.add(new Seed("v2-short-preamble", Arrays.copyOf(npyFile(dict("<f4", "False", "(2,)"), 8, 2), 11)));
        byte[] magic = ok.clone();
        magic[1] = 'X';
        s.add(new Seed("bad-magic", magic));
        s.add(new Seed("tiny", new byte[]{(byte) 0x93, 'N', 'U'}));
        return s;
    }

    // ---------------------------------------------------------------- .safetensors

    /** A tensor: name, dtype, shape, float values (null: data_offsets given raw in {@code offsets}). */
    private record T(String name, String dtype, long[] shape, float[] values, long[] offsets) {
        T(String name, String dtype, long[] shape, float[] values) {
            this(name, dtype, shape, values, null);
        }
    }

    static byte[] safetensorsFile(List<T> tensors, String headerOverride) {
        StringBuilder header = new StringBuilder("{");
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (T t : tensors) {
            long begin = data.size();
            if (t.values != null) {
                int item = t.dtype.equals("F32") ? 4 : 2;
                ByteBuffer b = ByteBuffer.allocate(t.values.length * item).order(ByteOrder.LITTLE_ENDIAN);
                for (float v : t.values) {
                    switch (t.dtype) {
                        case "F32" -> b.putFloat(v);
                        case "F16" -> b.putShort(Float.floatToFloat16(v));
                        default -> b.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
                    }
                }
                data.writeBytes(b.array());
            }
            long[] off = t.offsets != null ? t.offsets : new long[]{begin, data.size()};
            header.append('"').append(t.name).append("\": {\"dtype\": \"").append(t.dtype).append("\", \"shape\": ")
                    .append(Arrays.toString(t.shape)).append(", \"data_offsets\": ").append(Arrays.toString(off)).append("}, ");
        }
        header.append("\"__metadata__\": {\"description\": \"fuzz seed\"}}");
        byte[] h = (headerOverride != null ? headerOverride : header.toString()).getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + data.size()).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(h.length).put(h).put(data.toByteArray());
        return out.array();
    }

    private static float[] gauss(SplittableRandom rnd, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) rnd.nextGaussian();
        }
        return f;
    }

    static List<Seed> safetensors() {
        SplittableRandom rnd = new SplittableRandom(7);
        List<Seed> s = new ArrayList<>();
        long[] kv = {10, 1, 8};
        T k0 = new T("layers.0.key", "F32", kv, gauss(rnd, 80));
        T v0 = new T("layers.0.value", "F32", kv, gauss(rnd, 80));
        s.add(new Seed("valid-1layer-f32", safetensorsFile(List.of(k0, v0), null)));
        s.add(new Seed("valid-2layers-f16-bf16-query", safetensorsFile(List.of(
                new T("layers.0.key", "F16", new long[]{6, 2, 8}, gauss(rnd, 96)),
                new T("layers.0.value", "BF16", new long[]{6, 2, 8}, gauss(rnd, 96)),
                new T("layers.0.query", "F32", new long[]{2, 4, 8}, gauss(rnd, 64)),
                new T("layers.1.key", "F16", new long[]{6, 2, 8}, gauss(rnd, 96)),
                new T("layers.1.value", "BF16", new long[]{6, 2, 8}, gauss(rnd, 96)),
                new T("layers.1.query", "F32", new long[]{2, 4, 8}, gauss(rnd, 64)),
                new T("layers.1.key_pre_rope", "F16", new long[]{6, 2, 8}, gauss(rnd, 96)),
                new T("other.tensor", "F32", new long[]{2}, gauss(rnd, 2))), null)));
        s.add(new Seed("query-in-one-layer-only", safetensorsFile(List.of(
                new T("layers.0.key", "F32", new long[]{4, 1, 8}, gauss(rnd, 32)),
                new T("layers.0.value", "F32", new long[]{4, 1, 8}, gauss(rnd, 32)),
                new T("layers.0.query", "F32", new long[]{2, 2, 8}, gauss(rnd, 32)),
                new T("layers.1.key", "F32", new long[]{4, 1, 8}, gauss(rnd, 32)),
                new T("layers.1.value", "F32", new long[]{4, 1, 8}, gauss(rnd, 32))), null)));
        s.add(new Seed("query-shapes-differ-between-layers", safetensorsFile(List.of(
                new T("layers.0.key", "F32", new long[]{4, 1, 8}, gauss(rnd, 32)),
                new T("layers.0.value", "F32", new long[]{4, 1, 8}, gauss(rnd, 32)),
                new T("layers.0.query", "F32", new long[]{3, 2, 8}, gauss(rnd, 48)),
                new T("layers.1.key", "F32", new long[]{4, 1, 8}, gauss(rnd, 32)),
                new T("layers.1.value", "F32", new long[]{4, 1, 8}, gauss(rnd, 32)),
                new T("layers.1.query", "F32", new long[]{1, 1, 8}, gauss(rnd, 8))), null)));
        byte[] good = safetensorsFile(List.of(k0, v0), null);
        s.add(new Seed("truncated", Arrays.copyOf(good, good.length - 4)));
        s.add(new Seed("dtype-f64", safetensorsFile(List.of(new T("layers.0.key", "F64", kv, gauss(rnd, 40)), v0), null)));
        s.add(new Seed("dtype-i32", safetensorsFile(List.of(new T("layers.0.key", "I32", kv, gauss(rnd, 80)), v0), null)));
        byte[] lying = good.clone();
        ByteBuffer.wrap(lying).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        s.add(new Seed("header-length-lies", lying));
        byte[] negative = good.clone();
        ByteBuffer.wrap(negative).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -5);
        s.add(new Seed("header-length-negative", negative));
        s.add(new Seed("shape-huge", safetensorsFile(List.of(k0, v0), "{\"layers.0.key\": {\"dtype\": \"F32\", \"shape\": "
                + "[4000000000, 4000000000, 8], \"data_offsets\": [0, 320]}, \"layers.0.value\": {\"dtype\": \"F32\", "
                + "\"shape\": [10, 1, 8], \"data_offsets\": [320, 640]}}")));
        // 1824726041 x 37171 x 67992 elements x 4 bytes wraps around 2^64 to 32 bytes
        s.add(new Seed("shape-bytes-wrap-around", safetensorsFile(List.of(
                new T("layers.0.key", "F32", new long[]{1824726041L, 37171, 67992}, null, new long[]{0, 32}),
                new T("layers.0.value", "F32", new long[]{1824726041L, 37171, 67992}, null, new long[]{32, 64}),
                new T("pad", "F32", new long[]{16}, new float[16])), null)));
        s.add(new Seed("size-mismatch", safetensorsFile(List.of(k0, v0), "{\"layers.0.key\": {\"dtype\": \"F32\", \"shape\": "
                + "[10, 1, 8], \"data_offsets\": [0, 300]}, \"layers.0.value\": {\"dtype\": \"F32\", \"shape\": [10, 1, 8], "
                + "\"data_offsets\": [320, 640]}}")));
        s.add(new Seed("offsets-out-of-range", safetensorsFile(List.of(k0, v0), "{\"layers.0.key\": {\"dtype\": \"F32\", \"shape\": "
                + "[10, 1, 8], \"data_offsets\": [600, 920]}, \"layers.0.value\": {\"dtype\": \"F32\", \"shape\": [10, 1, 8], "
                + "\"data_offsets\": [320, 640]}}")));
        s.add(new Seed("offsets-reversed", safetensorsFile(List.of(k0, v0), "{\"layers.0.key\": {\"dtype\": \"F32\", \"shape\": "
                + "[10, 1, 8], \"data_offsets\": [320, 0]}, \"layers.0.value\": {\"dtype\": \"F32\", \"shape\": [10, 1, 8], "
                + "\"data_offsets\": [320, 640]}}")));
        s.add(new Seed("head-dim-not-multiple-of-8", safetensorsFile(List.of(
                new T("layers.0.key", "F32", new long[]{4, 1, 5}, gauss(rnd, 20)),
                new T("layers.0.value", "F32", new long[]{4, 1, 5}, gauss(rnd, 20))), null)));
        s.add(new Seed("key-value-shapes-differ", safetensorsFile(List.of(k0,
                new T("layers.0.value", "F32", new long[]{10, 2, 4}, gauss(rnd, 80))), null)));
        s.add(new Seed("query-heads-not-multiple", safetensorsFile(List.of(
                new T("layers.0.key", "F32", new long[]{4, 2, 8}, gauss(rnd, 64)),
                new T("layers.0.value", "F32", new long[]{4, 2, 8}, gauss(rnd, 64)),
                new T("layers.0.query", "F32", new long[]{1, 3, 8}, gauss(rnd, 24))), null)));
        s.add(new Seed("layers-differ", safetensorsFile(List.of(k0, v0,
                new T("layers.1.key", "F32", new long[]{5, 1, 8}, gauss(rnd, 40)),
                new T("layers.1.value", "F32", new long[]{5, 1, 8}, gauss(rnd, 40))), null)));
        s.add(new Seed("missing-value", safetensorsFile(List.of(k0), null)));
        s.add(new Seed("layer-not-a-number", safetensorsFile(List.of(new T("layers.x.key", "F32", kv, gauss(rnd, 80)), v0), null)));
        s.add(new Seed("no-layers", safetensorsFile(List.of(new T("embed", "F32", new long[]{2}, gauss(rnd, 2))), null)));
        s.add(new Seed("not-json", safetensorsFile(List.of(k0, v0), "not json")));
        s.add(new Seed("json-array", safetensorsFile(List.of(k0, v0), "[1, 2, 3]")));
        s.add(new Seed("json-tensor-not-object", safetensorsFile(List.of(k0, v0), "{\"layers.0.key\": 5, \"layers.0.value\": \"x\"}")));
        s.add(new Seed("json-deep", safetensorsFile(List.of(k0, v0), "[".repeat(3000))));
        s.add(new Seed("tiny", new byte[]{1, 2, 3}));
        return s;
    }

    // ---------------------------------------------------------------- presets and configs

    static List<Seed> presetIds() {
        List<Seed> s = new ArrayList<>();
        for (Preset p : Preset.values()) {
            s.add(new Seed("id-" + p.name().toLowerCase(), p.id().getBytes(StandardCharsets.UTF_8)));
        }
        s.add(new Seed("trailing-space", "fp16 ".getBytes(StandardCharsets.UTF_8)));
        s.add(new Seed("upper-case", "VIDKV-2".getBytes(StandardCharsets.UTF_8)));
        s.add(new Seed("nul", "vidkv-1.5/1.58\0".getBytes(StandardCharsets.UTF_8)));
        s.add(new Seed("enum-name", "VIDKV_15_158".getBytes(StandardCharsets.UTF_8)));
        return s;
    }

    private static final List<Integer> INTS = Arrays.stream(new int[]{0, 1, 2, 3, 4, 8, 16, 24, 32, 40, 56, 64, 72, 128, 4095, 4096,
            65536, -1, -8, Integer.MAX_VALUE, Integer.MIN_VALUE, Integer.MAX_VALUE / 8 + 1, 1 << 28, 1 << 30}).boxed().toList();
    private static final double[] DOUBLES = {0, 1, 1.25, 1.5, 1.75, 2, 0.5, 0.7, 0.2, -0.0, -1, 1e-300, 9.999, 10,
            Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.MIN_VALUE, Math.nextDown(1.0), Math.nextUp(2.0)};

    static Writer anInt(Writer w, int v) {
        int i = INTS.indexOf(v);
        if (i >= 0) {
            return w.u8(i);
        }
        if (v >= -32 && v < 32) {
            return w.u8(v + 160);
        }
        return w.u8(255).i32(v);
    }

    static Writer aDouble(Writer w, double v) {
        for (int i = 0; i < DOUBLES.length; i++) {
            if (Double.compare(DOUBLES[i], v) == 0) {
                return w.u8(i);
            }
        }
        return w.u8(255).f64(v);
    }

    /**
     * One layerConfig input: KeySpec(kind, bits, axis, keyBits, split, spectral, perGroup),
     * ValueSpec(kind, bits, axis, gamma, packing, protection, fraction), LayerConfig(G, R, C, metadata),
     * ModelShape(layers, qHeads, kvHeads, d), CacheConfig(pageBytes, capacity), data seed.
     */
    static byte[] config(int keyKind, int keyBitsInt, int keyAxis, double keyBits, int split, boolean spectral, boolean perGroup,
                         int valueKind, int valueBits, int valueAxis, double gamma, int packing, boolean protection, double fraction,
                         int g, int r, int c, int metadata, int layers, int qHeads, int kvHeads, int d, int pageBytes, int capacity) {
        Writer w = new Writer().u8(keyKind);
        anInt(w, keyBitsInt).u8(keyAxis);
        aDouble(w, keyBits).u8(split).bool(spectral).bool(perGroup).u8(valueKind);
        anInt(w, valueBits).u8(valueAxis);
        aDouble(w, gamma).u8(packing).bool(protection);
        aDouble(w, fraction);
        anInt(w, g);
        anInt(w, r);
        anInt(w, c).u8(metadata).below(2, layers - 1);
        anInt(w, qHeads);
        anInt(w, kvHeads);
        anInt(w, d);
        anInt(w, pageBytes);
        anInt(w, capacity);
        return w.i64(42).done();
    }

    static List<Seed> layerConfigs() {
        // kinds: key FP16 0, UNIFORM 1, VIDKV 2, REFERENCE 3; value FP16 0, UNIFORM 1, TERNARY 2, REFERENCE 3
        // axis PER_CHANNEL 0, PER_TOKEN 1; split RANGE 0, VARIANCE 1, OUTLIER_COUNT 2; packing PLANES 0, BASE3 1;
        // metadata FP16 0, COMPACT8 1
        List<Seed> s = new ArrayList<>();
        s.add(new Seed("fp16", config(0, 16, 0, 16, 0, false, false, 0, 16, 0, 0, 0, false, 0, 32, 128, 4, 0, 1, 4, 2, 64, 65536, 600)));
        s.add(new Seed("kivi-2-d24", config(1, 2, 0, 2, 0, false, false, 1, 2, 1, 0, 0, false, 0, 32, 16, 1, 0, 1, 2, 1, 24, 65536, 300)));
        s.add(new Seed("vidkv-15-158", config(2, 2, 0, 1.5, 0, true, false, 2, 2, 0, 0.7, 1, false, 0, 32, 128, 4, 0, 2, 4, 2, 64,
                65536, 400)));
        s.add(new Seed("vidkv-1-d8-g8", config(2, 2, 0, 1, 0, true, false, 2, 2, 0, 0.7, 0, false, 0, 8, 0, 1, 0, 1, 1, 1, 8, 4096, 64)));
        s.add(new Seed("vidkv-2-variance", config(2, 2, 0, 2, 1, true, false, 2, 2, 0, 0.5, 1, true, 0.2, 16, 8, 2, 0, 1, 8, 2, 32, 8192,
                200)));
        s.add(new Seed("vidkv-per-group-outliers", config(2, 2, 0, 1.25, 2, false, true, 1, 1, 0, 0, 0, false, 0, 64, 3, 1, 0, 1, 3, 3,
                16, 16384, 300)));
        s.add(new Seed("per-group-compact-rejected", config(2, 2, 0, 1.5, 0, true, true, 2, 2, 0, 0.7, 1, false, 0, 32, 0, 1, 1, 1, 2,
                1, 16, 65536, 100)));
        s.add(new Seed("compact-uniform-8bit", config(1, 8, 1, 8, 0, false, false, 1, 8, 1, 0, 0, false, 0, 64, 5, 2, 1, 1, 2, 2, 56,
                65536, 300)));
        s.add(new Seed("reference", config(3, 2, 0, 1.5, 0, true, false, 3, 2, 0, 0.5, 0, false, 0, 32, 128, 1, 0, 1, 2, 1, 64, 65536,
                400)));
        s.add(new Seed("uniform-5-bits", config(1, 5, 0, 5, 0, false, false, 1, 5, 0, 0, 0, false, 0, 32, 0, 1, 0, 1, 1, 1, 8, 4096, 64)));
        s.add(new Seed("gamma-10", config(2, 2, 0, 1.5, 0, true, false, 2, 2, 0, 10, 0, false, 0, 32, 0, 1, 0, 1, 1, 1, 8, 4096, 64)));
        s.add(new Seed("key-bits-nan", config(2, 2, 0, Double.NaN, 0, true, false, 2, 2, 0, 0.7, 0, false, 0, 32, 0, 1, 0, 1, 1, 1, 8,
                4096, 64)));
        s.add(new Seed("fraction-above-1", config(2, 2, 0, 1.5, 0, true, false, 2, 2, 0, 0.7, 0, true, 1.0000001, 32, 0, 1, 0, 1, 1, 1,
                8, 4096, 64)));
        s.add(new Seed("group-72", config(0, 16, 0, 16, 0, false, false, 0, 16, 0, 0, 0, false, 0, 72, 0, 1, 0, 1, 1, 1, 8, 4096, 64)));
        s.add(new Seed("residual-max-int", config(0, 16, 0, 16, 0, false, false, 0, 16, 0, 0, 0, false, 0, 64, Integer.MAX_VALUE, 4, 0,
                1, 1, 1, 8, 4096, 64)));
        s.add(new Seed("calibration-groups-overflow", config(0, 16, 0, 16, 0, false, false, 0, 16, 0, 0, 0, false, 0, 64, 0,
                Integer.MAX_VALUE / 8 + 1, 0, 1, 1, 1, 8, 4096, 64)));
        s.add(new Seed("page-too-small", config(0, 16, 0, 16, 0, false, false, 0, 16, 0, 0, 0, false, 0, 64, 0, 1, 0, 1, 1, 1, 128, 4096,
                64)));
        s.add(new Seed("shape-gqa-mismatch", config(0, 16, 0, 16, 0, false, false, 0, 16, 0, 0, 0, false, 0, 32, 0, 1, 0, 1, 3, 2, 8,
                4096, 64)));
        return s;
    }

    // ---------------------------------------------------------------- cache operations

    /** Builds a {@link KvCacheFuzzTest} input: a header, then operations. */
    static final class Ops {
        final Writer w = new Writer();
        final int layers;
        final int capacity;

        static final List<Integer> GQ = Arrays.stream(KvCacheFuzzTest.GQ).boxed().toList();

        /** presetIndex into Preset.values(); g, r, c < 0: keep the preset's. */
        Ops(int layers, int kvHeads, int gq, int d, Preset preset, int g, int r, int c, boolean parallel, int capacity, int pageBytes) {
            this(layers, kvHeads, gq, d, preset, g, r, c, parallel, false, capacity, pageBytes);
        }

        /** {@code evict}: capacity policy EVICT_OLDEST instead of REJECT. */
        Ops(int layers, int kvHeads, int gq, int d, Preset preset, int g, int r, int c, boolean parallel, boolean evict, int capacity,
            int pageBytes) {
            this.layers = layers;
            this.capacity = capacity;
            int tweaks = (g > 0 ? 1 : 0) | (r >= 0 ? 2 : 0) | (c > 0 ? 4 : 0) | (parallel ? 8 : 0) | (evict ? 16 : 0);
            w.below(2, layers - 1).below(3, kvHeads - 1).below(8, GQ.indexOf(gq)).below(16, d / 8 - 1).u8(preset.ordinal()).u8(tweaks);
            if (g > 0) {
                w.below(8, g / 8 - 1);
            }
            if (r >= 0) {
                w.below(48, r);
            }
            if (c > 0) {
                w.below(3, c - 1);
            }
            w.below(1024, capacity - 1).below(16, pageBytes / 4096 - 1);
        }

        /** Fill: mode 0 Gaussian, 1 constant SPECIALS[constant], 2 per-channel constant, 3 alternating; then patches. */
        static final class Fill {
            int mode;
            int scale;
            int seed = 1;
            int constant = 4;
            final List<float[]> patches = new ArrayList<>(); // {index, special index or NaN, raw value}

            Fill(int mode, int scale) {
                this.mode = mode;
                this.scale = scale;
            }

            Fill constant(int c) {
                constant = c;
                return this;
            }

            Fill special(int index, int special) {
                patches.add(new float[]{index, special, 0});
                return this;
            }

            Fill raw(int index, float value) {
                patches.add(new float[]{index, -1, value});
                return this;
            }
        }

        static Fill gauss(int scale) {
            return new Fill(0, scale);
        }

        private void fill(Fill f) {
            w.below(4, f.mode).below(8, f.scale).u16(f.seed).below(16, f.constant).below(4, f.patches.size());
            for (float[] p : f.patches) {
                w.i32((int) p[0]);
                if (p[1] >= 0) {
                    w.bool(true).below(16, (int) p[1]);
                } else {
                    w.bool(false).f32(p[2]);
                }
            }
        }

        Ops append(int layer, int n, InputType type, Fill keys, Fill values) {
            w.below(4, 0).below(layers + 1, layer).u16(n < 0 ? 0xFFFF : n).u8(type.ordinal());
            fill(keys);
            fill(values);
            return this;
        }

        Ops append(int layer, int n) {
            return append(layer, n, InputType.F32, gauss(0), gauss(0));
        }

        Ops protect(int position) {
            w.below(4, 1).below(capacity + 2, position + 1);
            return this;
        }

        private void queries(int scale, int[] patchIndex, int[] special) {
            w.below(6, scale).u16(3).below(3, patchIndex.length);
            for (int i = 0; i < patchIndex.length; i++) {
                w.i32(patchIndex[i]).bool(true).below(16, special[i]);
            }
        }

        Ops decode(int layer, int lastVisible, int queryScale, int... nanAt) {
            w.below(4, 2).below(layers, layer);
            if (lastVisible == Integer.MAX_VALUE) {
                w.u8(0);
            } else {
                w.u8(200).below(KvCacheFuzzTest.POSITION_SPAN * capacity + 1, lastVisible + 1);
            }
            queries(queryScale, nanAt, new int[nanAt.length]);
            return this;
        }

        Ops prefill(int layer, int n, int first, int tile, int queryScale, int... nanAt) {
            w.below(4, 3).below(layers, layer).below(8, n - 1).below(KvCacheFuzzTest.POSITION_SPAN * capacity + 8, first).below(4, tile / 64 - 1);
            queries(queryScale, nanAt, new int[nanAt.length]);
            return this;
        }

        byte[] done() {
            return w.done();
        }
    }

    static List<Seed> caches() {
        List<Seed> s = new ArrayList<>();
        for (Preset p : Preset.values()) {
            String name = "preset-" + p.name().toLowerCase().replace('_', '-');
            s.add(new Seed(name + "-prefill-decode", new Ops(1, 2, 2, 64, p, -1, -1, -1, false, 400, 65536)
                    .append(0, 300).decode(0, Integer.MAX_VALUE, 0).prefill(0, 4, 296, 64, 0)
                    .append(0, 1).decode(0, 150, 0).done()));
            s.add(new Seed(name + "-small-window", new Ops(2, 1, 3, 16, p, 8, 4, 1, false, 200, 8192)
                    .append(0, 40).append(1, 17).decode(0, Integer.MAX_VALUE, 0).prefill(1, 8, 0, 64, 0)
                    .append(0, 1).append(0, 9).decode(0, Integer.MAX_VALUE, 2).done()));
        }
        // EVICT_OLDEST: stream past a small capacity (whole pages evicted, the current one too), attend
        // before and inside the retained positions, and an append too large even after evicting everything
        for (Preset p : new Preset[]{Preset.VIDKV_15_158, Preset.VIDKV_15_166_STP, Preset.KIVI_2, Preset.FP16,
                Preset.VIDKV_15_158_COMPACT, Preset.VIDKV_REFERENCE}) {
            String name = "evict-" + p.name().toLowerCase().replace('_', '-');
            s.add(new Seed(name + "-stream", new Ops(1, 2, 2, 32, p, 8, 8, 1, false, true, 120, 4096)
                    .protect(20).append(0, 100).append(0, 90).decode(0, Integer.MAX_VALUE, 0).append(0, 70).append(0, 110)
                    .decode(0, 5, 0).decode(0, 330, 0).prefill(0, 3, 2, 64, 0).prefill(0, 4, 366, 64, 0).append(0, 119).done()));
            s.add(new Seed(name + "-parallel-2layers", new Ops(2, 3, 1, 16, p, 16, 0, 2, true, true, 300, 4096)
                    .append(0, 280).append(1, 33).append(0, 250).append(1, 299).append(0, 300).decode(0, Integer.MAX_VALUE, 1)
                    .decode(1, Integer.MAX_VALUE, 0).prefill(0, 2, 828, 128, 0).done()));
        }
        // FP16 range: the largest accepted magnitude everywhere, then just above it (rejected)
        Ops.Fill max = new Ops.Fill(1, 0).constant(7);
        Ops.Fill alternatingMax = new Ops.Fill(3, 7);
        for (Preset p : new Preset[]{Preset.VIDKV_15_158, Preset.VIDKV_2, Preset.KIVI_2, Preset.FP16, Preset.VIDKV_REFERENCE}) {
            s.add(new Seed("fp16-limit-" + p.name().toLowerCase().replace('_', '-'), new Ops(1, 1, 2, 32, p, 8, 0, 1, false, 100, 65536)
                    .append(0, 24, InputType.F32, alternatingMax, max).decode(0, Integer.MAX_VALUE, 0)
                    .append(0, 8, InputType.F32, Ops.gauss(0).special(5, 9), Ops.gauss(0)).decode(0, Integer.MAX_VALUE, 3).done()));
        }
        // huge magnitudes where no FP16 range applies (compact metadata)
        s.add(new Seed("compact-huge", new Ops(1, 1, 1, 64, Preset.VIDKV_15_158_COMPACT, 8, 0, 1, false, 100, 65536)
                .append(0, 24, InputType.F32, Ops.gauss(5), new Ops.Fill(3, 5)).decode(0, Integer.MAX_VALUE, 0)
                .prefill(0, 2, 20, 64, 0).done()));
        s.add(new Seed("compact-float-max", new Ops(1, 1, 1, 8, Preset.VIDKV_15_158_COMPACT, 8, 0, 1, false, 100, 65536)
                .append(0, 16, InputType.F32, new Ops.Fill(1, 0).constant(12), new Ops.Fill(1, 0).constant(14))
                .decode(0, Integer.MAX_VALUE, 0).done()));
        // zero-range groups: all equal, -0.0, denormals
        s.add(new Seed("all-equal-zero", new Ops(1, 2, 1, 32, Preset.VIDKV_15_166_STP, 8, 0, 1, false, 100, 65536)
                .protect(3).append(0, 40, InputType.F32, new Ops.Fill(1, 0).constant(3), new Ops.Fill(1, 0).constant(4))
                .decode(0, Integer.MAX_VALUE, 0).prefill(0, 3, 10, 64, 2).done()));
        s.add(new Seed("per-channel-constant-denormal", new Ops(1, 1, 2, 24, Preset.VIDKV_125_158, 8, 2, 2, false, 100, 65536)
                .append(0, 50, InputType.F32, new Ops.Fill(2, 4), new Ops.Fill(1, 0).constant(5)).decode(0, 30, 5)
                .prefill(0, 5, 0, 128, 5).done()));
        s.add(new Seed("tiny-values", new Ops(1, 1, 1, 8, Preset.VIDKV_2, 8, 0, 1, false, 64, 4096)
                .append(0, 20, InputType.F32, Ops.gauss(4), Ops.gauss(1)).decode(0, Integer.MAX_VALUE, 1).done()));
        // specials through each input type: rejected, cache unchanged, then a clean append
        for (InputType t : InputType.values()) {
            for (int special : new int[]{0, 1, 2, 10}) {
                s.add(new Seed("special-" + special + "-" + t.name().toLowerCase(), new Ops(1, 2, 1, 16, Preset.VIDKV_15_2, 8, 1, 1, false,
                        200, 65536).append(0, 30, t, Ops.gauss(0), Ops.gauss(0)).append(0, 12, t, Ops.gauss(0).special(77, special),
                        Ops.gauss(0)).append(0, 12, t, Ops.gauss(0), Ops.gauss(2).special(5, 13).raw(9, -0f))
                        .decode(0, Integer.MAX_VALUE, 0).done()));
            }
        }
        // capacity, bad layer, negative count, protect rules
        s.add(new Seed("capacity-and-bad-calls", new Ops(2, 1, 2, 8, Preset.VIDKV_15_158, 8, 0, 1, false, 40, 4096)
                .append(0, 30).append(0, 11).append(2, 1).append(0, -1).protect(0).protect(39).protect(40).protect(-1)
                .decode(1, Integer.MAX_VALUE, 0).prefill(1, 1, 0, 64, 0).append(0, 10).done()));
        s.add(new Seed("decode-nothing-visible", new Ops(1, 1, 1, 8, Preset.FP16, -1, -1, -1, false, 64, 65536)
                .append(0, 5).decode(0, -1, 0).decode(0, 0, 0).decode(0, 2, 0, 3).done()));
        s.add(new Seed("prefill-nan-query", new Ops(1, 1, 2, 16, Preset.VIDKV_15_158, 8, 0, 1, false, 100, 65536)
                .append(0, 20).prefill(0, 2, 18, 64, 0, 5).done()));
        s.add(new Seed("prefill-tile-not-multiple", new Ops(1, 1, 1, 8, Preset.FP16, 24, 0, 1, false, 200, 65536)
                .append(0, 60).prefill(0, 2, 10, 64, 0).prefill(0, 2, 50, 192, 0).done()));
        s.add(new Seed("protected-tokens", new Ops(1, 2, 2, 32, Preset.VIDKV_175_166_STP, 8, 0, 1, false, 200, 65536)
                .protect(0).protect(1).protect(7).protect(15).append(0, 40).protect(2).protect(60).append(0, 30)
                .decode(0, Integer.MAX_VALUE, 0).prefill(0, 8, 60, 64, 0).done()));
        s.add(new Seed("parallel-large", new Ops(2, 3, 2, 128, Preset.VIDKV_15_158, -1, -1, -1, true, 600, 65536)
                .append(0, 300).append(1, 290, InputType.BF16, Ops.gauss(2), Ops.gauss(2)).decode(0, Integer.MAX_VALUE, 0)
                .prefill(1, 8, 280, 256, 0).done()));
        s.add(new Seed("reference-requantize", new Ops(1, 1, 1, 16, Preset.VIDKV_REFERENCE, 8, 0, 1, false, 400, 65536)
                .append(0, 100).append(0, 60).append(0, 1).decode(0, Integer.MAX_VALUE, 0).done()));
        s.add(new Seed("multi-query-wide", new Ops(1, 1, 71, 8, Preset.VIDKV_15_158, 8, 0, 1, false, 100, 65536)
                .append(0, 30).decode(0, Integer.MAX_VALUE, 0).prefill(0, 2, 20, 64, 0).done()));
        s.add(new Seed("one-by-one", new Ops(1, 1, 1, 8, Preset.KIVI_2, 8, 0, 1, false, 64, 4096)
                .append(0, 1).append(0, 1).append(0, 7).append(0, 1).decode(0, Integer.MAX_VALUE, 0).append(0, 0).done()));
        return s;
    }

    // ---------------------------------------------------------------- natives.properties

    static List<Seed> manifests() throws IOException {
        List<Seed> s = new ArrayList<>();
        String real = Files.readString(Path.of("native-libs/natives.properties"), StandardCharsets.ISO_8859_1)
                .replaceAll("(?m)^#.*\\n", "");
        s.add(new Seed("real", real.getBytes(StandardCharsets.ISO_8859_1)));
        String small = """
                platform=linux-x86_64
                libraries=a,b
                a.file=liba.so
                a.resource=x/liba.so
                a.sha256=00
                a.size=10
                a.carrier=g:a:1
                b.file=libb.so
                b.resource=x/libb.so
                b.sha256=11
                b.size=20
                b.carrier=g:b:1
                b.depends=a
                """;
        s.add(new Seed("small", small.getBytes(StandardCharsets.ISO_8859_1)));
        s.add(new Seed("size-not-a-number", small.replace("a.size=10", "a.size=ten").getBytes(StandardCharsets.ISO_8859_1)));
        s.add(new Seed("size-negative", small.replace("a.size=10", "a.size=-10").getBytes(StandardCharsets.ISO_8859_1)));
        s.add(new Seed("missing-file", small.replace("a.file=liba.so\n", "").getBytes(StandardCharsets.ISO_8859_1)));
        s.add(new Seed("unknown-dependency", small.replace("b.depends=a", "b.depends=a, c").getBytes(StandardCharsets.ISO_8859_1)));
        s.add(new Seed("dependency-cycle", (small + "a.depends=b\n").getBytes(StandardCharsets.ISO_8859_1)));
        s.add(new Seed("self-dependency", small.replace("b.depends=a", "b.depends=b").getBytes(StandardCharsets.ISO_8859_1)));
        s.add(new Seed("empty-library-list", small.replace("libraries=a,b", "libraries= ,").getBytes(StandardCharsets.ISO_8859_1)));
        s.add(new Seed("bad-unicode-escape", (small + "x=\\u12").getBytes(StandardCharsets.ISO_8859_1)));
        s.add(new Seed("no-platform", small.replace("platform=linux-x86_64\n", "").getBytes(StandardCharsets.ISO_8859_1)));
        return s;
    }
}
