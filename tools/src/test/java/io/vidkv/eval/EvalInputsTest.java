package io.vidkv.eval;

import io.vidkv.ParallelRunner;
import io.vidkv.Preset;
import io.vidkv.testing.NpyFiles;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The evaluation's inputs read as the data say (issue 13, section 3): grouped-query .npy data split
 * into heads by flags or meta.json, query tokens chosen and counted right, layers numbered as in
 * the files, pages sized to the data, random protection at the salient choice's bits.
 */
class EvalInputsTest {

    /** A float32 .npy file [rows, cols] of {@code values} (C order). */
    static void npy(Path file, int rows, int cols, float[] values) throws Exception {
        byte[] head = NpyFiles.build("{'descr': '<f4', 'fortran_order': False, 'shape': (" + rows + ", " + cols + "), }", 0, 1, 0f);
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(head);
        out.writeBytes(b.array());
        Files.write(file, out.toByteArray());
    }

    static float[] gaussian(SplittableRandom rnd, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) rnd.nextGaussian();
        }
        return f;
    }

    static final int TOKENS = 300, KV = 2, QH = 4, D = 32, ROWS = 5;

    /**
     * Layers L1 and L3 of grouped-query data: keys/values [300, 2 x 32], queries [5, 4 x 32] (the
     * question's 5 tokens); returns the query arrays by layer number.
     */
    static java.util.Map<Integer, float[]> gqaDir(Path dir, long seed) throws Exception {
        SplittableRandom rnd = TestSeeds.random(seed);
        java.util.Map<Integer, float[]> queries = new java.util.HashMap<>();
        for (int l : new int[]{1, 3}) {
            npy(dir.resolve("L" + l + "_key.npy"), TOKENS, KV * D, gaussian(rnd, TOKENS * KV * D));
            npy(dir.resolve("L" + l + "_value.npy"), TOKENS, KV * D, gaussian(rnd, TOKENS * KV * D));
            float[] q = gaussian(rnd, ROWS * QH * D);
            npy(dir.resolve("L" + l + "_query.npy"), ROWS, QH * D, q);
            queries.put(l, q);
        }
        return queries;
    }

    static IllegalArgumentException rejected(Path dir, KvSource.Options o) {
        return assertThrows(IllegalArgumentException.class, () -> NpyLayerSource.directory(dir, o));
    }

    @Test
    void groupedQueryNpyIsSplitByTheFlagsAndNumberedByTheFiles(@TempDir Path dir) throws Exception {
        java.util.Map<Integer, float[]> q = gqaDir(dir, 1301);
        // the default head dim would split 128 and 64 channels into 4 and 2 heads of 32 here by luck;
        // with different widths and nothing said it must not guess
        IllegalArgumentException e = rejected(dir, new KvSource.Options(null, null, null, null));
        assertTrue(e.getMessage().contains("grouped-query data") && e.getMessage().contains("--query-heads"), e.getMessage());
        for (KvSource.Options o : List.of(new KvSource.Options(null, QH, KV, null), new KvSource.Options(D, null, null, null),
                new KvSource.Options(null, null, KV, null))) {
            NpyLayerSource src = NpyLayerSource.directory(dir, o);
            assertEquals(new io.vidkv.ModelShape(2, QH, KV, D), src.shape(), o.toString());
            assertEquals(List.of(1, 3), src.layerNumbers());
            // fewer query rows than tokens: they are the question, all evaluated, every token visible
            assertEquals(new KvSource.Queries(ROWS, ROWS, false, "L<layer>_query.npy"), src.queries());
        }
        NpyLayerSource src = NpyLayerSource.directory(dir, new KvSource.Options(null, QH, KV, 3));
        try (Arena arena = Arena.ofConfined()) {
            LayerData data = src.layer(1, arena);
            assertEquals(3, data.layer(), "the file's layer number, not the index");
            assertEquals(3, data.queryTokens());
            assertArrayEquals(new int[]{TOKENS - 1, TOKENS - 1, TOKENS - 1}, data.queryPositions());
            // the last 3 rows, [token][query head][channel]
            float[] file = q.get(3);
            for (int i = 0; i < 3 * QH * D; i += 37) {
                assertEquals(file[(ROWS - 3) * QH * D + i], data.queries().getAtIndex(ValueLayout.JAVA_FLOAT, i));
            }
        }
        e = rejected(dir, new KvSource.Options(null, 3, KV, null));
        assertTrue(e.getMessage().contains("3 query heads x head dim 32 is not the query width 128"), e.getMessage());
        e = rejected(dir, new KvSource.Options(null, null, 3, null));
        assertTrue(e.getMessage().contains("key width 64 is not 3 KV heads"), e.getMessage());
        e = rejected(dir, new KvSource.Options(null, null, null, 6));
        assertTrue(e.getMessage().contains("grouped-query"), "the shape is checked first: " + e.getMessage());
        e = rejected(dir, new KvSource.Options(D, null, null, 6));
        assertTrue(e.getMessage().contains("--queries 6 is not between 1 and the 5 query tokens"), e.getMessage());
        // query heads that do not share KV heads in equal groups: 3 x 32 over 2 x 32
        Path odd = Files.createDirectory(dir.resolve("odd"));
        SplittableRandom rnd = TestSeeds.random(1302);
        npy(odd.resolve("L0_key.npy"), TOKENS, KV * D, gaussian(rnd, TOKENS * KV * D));
        npy(odd.resolve("L0_value.npy"), TOKENS, KV * D, gaussian(rnd, TOKENS * KV * D));
        npy(odd.resolve("L0_query.npy"), ROWS, 3 * D, gaussian(rnd, ROWS * 3 * D));
        e = rejected(odd, new KvSource.Options(D, null, null, null));
        assertTrue(e.getMessage().contains("3 query heads of 32 are not a multiple of the 2 KV heads"), e.getMessage());
    }

    @Test
    void metaJsonGivesTheHeadsAndACausalMask(@TempDir Path dir) throws Exception {
        gqaDir(dir, 1303);
        Files.writeString(dir.resolve("meta.json"),
                "{\"query_heads\": 4, \"kv_heads\": 2, \"head_dim\": 32, \"query_positions\": [250, 260, 270, 280, 299]}");
        NpyLayerSource src = NpyLayerSource.directory(dir, new KvSource.Options(null, null, null, null));
        assertEquals(new io.vidkv.ModelShape(2, QH, KV, D), src.shape());
        assertTrue(src.queries().causal());
        try (Arena arena = Arena.ofConfined()) {
            assertArrayEquals(new int[]{250, 260, 270, 280, 299}, src.layer(0, arena).queryPositions());
            assertArrayEquals(new int[]{280, 299}, src.withQueries(2).layer(0, arena).queryPositions(), "the last 2, at their positions");
        }
        // the mask is applied: fp16 storage still matches the float64 reference, which masks as LayerData says
        try (ParallelRunner runner = new ParallelRunner(2)) {
            Evaluator.Result r = new Evaluator(src, List.of(0, 1), runner, 32).run(List.of(Variant.of(Preset.FP16)), s -> { }).getFirst();
            assertTrue(r.attnRelError() < 1e-3, "fp16 attention error " + r.attnRelError());
            assertEquals(List.of(1, 3), r.layers().stream().map(Evaluator.LayerResult::layer).toList(), "rows labelled by file layer");
        }
        assertThrows(IllegalArgumentException.class, () -> NpyLayerSource.directory(dir, new KvSource.Options(64, null, null, null)));
        String[][] bad = {
                {"{\"kv_head\": 2}", "unknown key 'kv_head'"},
                {"{\"heads\": 4, \"kv_heads\": 2}", "heads and query_heads/kv_heads"},
                {"{\"head_dim\": 32, \"query_positions\": [1, 2]}", "query_positions must be a list of 5 positions"},
                {"{\"head_dim\": 32, \"query_positions\": [1, 2, 3, 4, 300]}", "query_positions[4] is 300; positions are 0 to 299"},
                {"{\"head_dim\": -32}", "head_dim must be a positive integer"},
                {"[1, 2]", "meta.json must be an object"},
                {"{\"head_dim\": ", "meta.json is not valid JSON"},
        };
        for (String[] b : bad) {
            Files.writeString(dir.resolve("meta.json"), b[0]);
            IllegalArgumentException e = rejected(dir, new KvSource.Options(null, null, null, null));
            assertTrue(e.getMessage().contains(b[1]), b[0] + ": " + e.getMessage());
        }
        Files.writeString(dir.resolve("meta.json"), "{\"kv_heads\": 2}");
        IllegalArgumentException e = rejected(dir, new KvSource.Options(null, null, 4, null));
        assertTrue(e.getMessage().contains("--kv-heads 4 disagrees with meta.json's kv_heads 2"), e.getMessage());
    }

    @Test
    void safetensorsQueriesAreTheLastOnesAskedFor(@TempDir Path dir) throws Exception {
        SplittableRandom rnd = TestSeeds.random(1304);
        int tokens = 300, nq = 7;
        float[] query = SafetensorsSourceTest.random(rnd, nq * QH * D);
        List<Object[]> ts = new ArrayList<>();
        for (int l : new int[]{2, 4}) {
            ts.add(new Object[]{"layers." + l + ".key", "F32", new long[]{tokens, KV, D}, SafetensorsSourceTest.random(rnd, tokens * KV * D)});
            ts.add(new Object[]{"layers." + l + ".value", "F32", new long[]{tokens, KV, D}, SafetensorsSourceTest.random(rnd, tokens * KV * D)});
            ts.add(new Object[]{"layers." + l + ".query", "F32", new long[]{nq, QH, D}, query});
        }
        Path f = dir.resolve("kv.safetensors");
        Files.write(f, SafetensorsSourceTest.write(ts, null));
        SafetensorsSource all = SafetensorsSource.open(f);
        assertEquals(new KvSource.Queries(nq, nq, true, "layers.<l>.query"), all.queries());
        assertEquals(List.of(2, 4), all.layerNumbers());
        SafetensorsSource three = SafetensorsSource.open(f, 3);
        assertEquals(3, three.queries().tokens());
        try (Arena arena = Arena.ofConfined()) {
            LayerData data = three.layer(1, arena);
            assertEquals(4, data.layer());
            assertEquals(3, data.queryTokens());
            assertArrayEquals(new int[]{tokens - 3, tokens - 2, tokens - 1}, data.queryPositions());
            for (int i = 0; i < 3 * QH * D; i += 29) {
                assertEquals(query[(nq - 3) * QH * D + i], data.queries().getAtIndex(ValueLayout.JAVA_FLOAT, i));
            }
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafetensorsSource.open(f, 8));
        assertTrue(e.getMessage().contains("has 7 query tokens") && e.getMessage().contains("--queries 8"), e.getMessage());
    }

    @Test
    void pagesHoldOneBlockSoShortDataShowTheirTotalBits() throws Exception {
        assertEquals(4096, Evaluator.pageBytes(Preset.FP16.layerConfig(), 32), "32 x 32 x 2 x 2 bytes: one fp16 block");
        assertEquals(32 * 128 * 2 * 2, Evaluator.pageBytes(Preset.FP16.layerConfig(), 128));
        long block = Preset.VIDKV_15_158.layerConfig().maxBlockBytes(32);
        int page = Evaluator.pageBytes(Preset.VIDKV_15_158.layerConfig(), 32);
        assertTrue(page >= 4096 && page % block == 0 && page - block < 4096,
                "the smallest whole number of blocks of at least the library's minimum page: " + page + " for blocks of " + block);
        NpyLayerSource minilm = NpyLayerSource.embeddedMiniLm(2);
        try (ParallelRunner runner = new ParallelRunner(2)) {
            List<Evaluator.Result> r = new Evaluator(minilm, List.of(0), runner, 32).run(
                    List.of(Variant.of(Preset.FP16), Variant.of(Preset.VIDKV_15_158)), s -> { });
            // 384 tokens in 12 fp16 blocks of one 4 KiB page each (16 bits), 128 in the float32 window (32 bits)
            assertEquals((384 * 16 + 128 * 32) / 512.0, r.get(0).totalBits(), 1e-9);
            assertEquals(0.8, r.get(0).compressionRatio(), 1e-9);
            assertTrue(r.get(1).totalBits() < 11 && r.get(1).compressionRatio() > 1.5, "1.5-bit blocks cost less than fp16 ones: "
                    + r.get(1).totalBits() + " bits, x" + r.get(1).compressionRatio());
            assertEquals(0, r.get(0).layers().getFirst().layer());
        }
    }

    @Test
    void randomProtectionMatchesTheSalientCountInEveryBlock() {
        int n = 300, g = 32;
        SplittableRandom rnd = TestSeeds.random(1305);
        float[] score = new float[n];
        for (int i = 0; i < n; i++) {
            // salient tokens cluster at the end, as attention on recent tokens does
            score[i] = (float) (rnd.nextDouble() + (i > 250 ? 2 : 0));
        }
        int[] salient = io.vidkv.TokenSaliency.topFraction(score, 0, 0.2);
        int[] random = Evaluator.randomLike(salient, n, g, 3);
        assertEquals(salient.length, random.length);
        for (int start = 0; start < n; start += g) {
            int s = start;
            long a = java.util.Arrays.stream(salient).filter(t -> t >= s && t < s + g).count();
            long b = java.util.Arrays.stream(random).filter(t -> t >= s && t < s + g).count();
            assertEquals(a, b, "group at " + start);
        }
        assertEquals(random.length, java.util.Arrays.stream(random).distinct().count(), "distinct tokens");
        assertTrue(java.util.Arrays.stream(random).allMatch(t -> t >= 0 && t < n));
        assertFalse(java.util.Arrays.equals(salient, random), "a random choice, not the salient one");
        assertArrayEquals(random, Evaluator.randomLike(salient, n, g, 3), "deterministic per layer");
        assertNotEquals(java.util.Arrays.toString(random), java.util.Arrays.toString(Evaluator.randomLike(salient, n, g, 4)));
    }
}
