package io.vidkv.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vidkv.testing.NpyFiles;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static io.vidkv.cli.CliInputTest.assertUserError;
import static io.vidkv.cli.CliInputTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code vidkv eval} on the inputs of issue 13, section 3, as a user runs it: grouped-query .npy
 * directories, .safetensors query counts, layer numbers, the protocol flags and header, pages sized
 * to short data, protection at equal bits. User errors are one line and exit 2 ({@link CliInputTest}).
 */
class EvalInputsCliTest {

    static void npy(Path file, int rows, int cols, SplittableRandom rnd) throws Exception {
        byte[] head = NpyFiles.build("{'descr': '<f4', 'fortran_order': False, 'shape': (" + rows + ", " + cols + "), }", 0, 1, 0f);
        ByteBuffer b = ByteBuffer.allocate(rows * cols * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < rows * cols; i++) {
            b.putFloat((float) rnd.nextGaussian());
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(head);
        out.writeBytes(b.array());
        Files.write(file, out.toByteArray());
    }

    /** Layers L1, L3, L4 of 300 tokens: keys/values 2 KV heads x 32, queries 5 tokens x 4 query heads x 32. */
    static Path gqa(Path dir) throws Exception {
        SplittableRandom rnd = TestSeeds.random(1311);
        for (int l : new int[]{1, 3, 4}) {
            npy(dir.resolve("L" + l + "_key.npy"), 300, 64, rnd);
            npy(dir.resolve("L" + l + "_value.npy"), 300, 64, rnd);
            npy(dir.resolve("L" + l + "_query.npy"), 5, 128, rnd);
        }
        return dir;
    }

    static JsonNode json(Path out) throws Exception {
        return new ObjectMapper().readTree(out.resolve("results.json").toFile());
    }

    @Test
    void groupedQueryNpyRunsWithTheHeadFlagsAndIsRejectedInOneLineWithout(@TempDir Path tmp) throws Exception {
        Path dir = gqa(Files.createDirectory(tmp.resolve("gqa")));
        String d = dir.toString();
        // before: a stack trace ("L1_query.npy has shape [5, 128], the keys [300, 64]")
        assertUserError(run("eval", "--data", d), "eval", "--data " + d, "grouped-query data (query width 128, key width 64)",
                "give --head-dim, or --query-heads and --kv-heads, or a meta.json");
        assertUserError(run("eval", "--data", d, "--query-heads", "3", "--kv-heads", "2"), "eval",
                "(--query-heads 3 --kv-heads 2)", "3 query heads x head dim 32 is not the query width 128");
        assertUserError(run("eval", "--data", d, "--kv-heads", "0"), "eval", "--kv-heads must be at least 1, got 0");
        assertUserError(run("eval", "--data", d, "--kv-heads", "2", "--queries", "6"), "eval",
                "--queries 6 is more than the 5 query tokens of --data " + d + " (L<layer>_query.npy)");
        assertUserError(run("eval", "--data", d, "--kv-heads", "2", "--layers", "2"), "eval",
                "--layers: layer 2 is out of range; the data have layers [1, 3, 4]");
        Files.writeString(dir.resolve("meta.json"), "{\"kv_heads\": 2, \"query_positions\": [1, 2]}");
        assertUserError(run("eval", "--data", d), "eval", "meta.json: query_positions must be a list of 5 positions");
        Files.writeString(dir.resolve("meta.json"), "{\"query_heads\": 4, \"kv_heads\": 2, \"head_dim\": 32, "
                + "\"query_positions\": [290, 292, 294, 296, 299]}");

        Path out = tmp.resolve("out");
        CliInputTest.Run r = run("eval", "--data", d, "--layers", "3,4", "--presets", "fp16,kivi-2", "--threads", "1",
                "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("layers: [3, 4] of 3, 300 cached tokens, 5 query tokens from L<layer>_query.npy x 4 heads, "
                + "causal mask"), r.out());
        List<String> csv = Files.readAllLines(out.resolve("results.csv"));
        assertTrue(csv.stream().anyMatch(l -> l.startsWith("fp16,3,")) && csv.stream().anyMatch(l -> l.startsWith("kivi-2,4,")),
                "rows labelled by file layer\n" + csv);
        assertTrue(csv.stream().noneMatch(l -> l.startsWith("fp16,0,") || l.startsWith("fp16,1,")), csv.toString());
        JsonNode j = json(out);
        assertEquals("[3,4]", j.get("layers").toString());
        assertEquals(4, j.get("protocol").get("query_heads").asInt());
        assertEquals(2, j.get("protocol").get("kv_heads").asInt());
        assertTrue(j.get("protocol").get("causal").asBoolean());
        JsonNode fp16 = j.get("presets").get(0);
        assertTrue(fp16.get("attn_rel_error").asDouble() < 1e-3, fp16.toString());
        assertEquals(3, fp16.get("per_layer").get(0).get("layer").asInt());
    }

    @Test
    void safetensorsQueriesAreCountedAndHonoured(@TempDir Path tmp) throws Exception {
        SplittableRandom rnd = TestSeeds.random(1312);
        List<Object[]> ts = new java.util.ArrayList<>();
        ts.add(new Object[]{"layers.0.key", "F32", new long[]{300, 2, 32}, io.vidkv.eval.SafetensorsSourceTest.random(rnd, 300 * 64)});
        ts.add(new Object[]{"layers.0.value", "F32", new long[]{300, 2, 32}, io.vidkv.eval.SafetensorsSourceTest.random(rnd, 300 * 64)});
        ts.add(new Object[]{"layers.0.query", "F32", new long[]{30, 4, 32}, io.vidkv.eval.SafetensorsSourceTest.random(rnd, 30 * 128)});
        Path f = tmp.resolve("kv.safetensors");
        Files.write(f, io.vidkv.eval.SafetensorsSourceTest.write(ts, null));
        // before: "8 query tokens" in the header while the file's 30 were used, and --queries ignored
        CliInputTest.Run all = run("eval", "--data", f.toString(), "--presets", "fp16", "--threads", "1");
        assertEquals(0, all.code(), all.err());
        assertTrue(all.out().contains("300 cached tokens, 30 query tokens from layers.<l>.query x 4 heads, causal mask"), all.out());
        CliInputTest.Run some = run("eval", "--data", f.toString(), "--presets", "fp16", "--threads", "1", "--queries", "3");
        assertEquals(0, some.code(), some.err());
        assertTrue(some.out().contains("3 of 30 query tokens from layers.<l>.query x 4 heads"), some.out());
        assertUserError(run("eval", "--data", f.toString(), "--queries", "31"), "eval",
                "--queries 31 is more than the 30 query tokens of --data " + f);
        assertUserError(run("eval", "--data", f.toString(), "--kv-heads", "4"), "eval",
                "--kv-heads 4 differs from --data " + f + "'s 2 KV heads");
        assertUserError(run("eval", "--data", f.toString(), "--head-dim", "64"), "eval", "--head-dim 64 differs");
    }

    @Test
    void protocolFlagsReachEveryPresetAndAreReported(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        CliInputTest.Run r = run("eval", "--data", "minilm", "--layers", "2", "--queries", "4", "--residual", "0",
                "--calibration-groups", "all", "--presets", "fp16,vidkv-1.5/1.58,vidkv-1.5/1.58-compact", "--threads", "1",
                "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        // 512 tokens: C = 512 / 32 = 16 (G 64: 8), the split over all of them, nothing left exact
        assertTrue(r.out().contains("protocol: R 0, C 16, G 32; R 0, C 8, G 64 for vidkv-1.5/1.58-compact (residual window R from "
                + "--residual; calibration groups C from --calibration-groups all: (tokens - R) / G)"), r.out());
        assertTrue(r.out().contains("4 of 512 query tokens"), r.out());
        JsonNode j = json(out);
        assertEquals(0, j.get("protocol").get("residual").asInt());
        assertEquals("all", j.get("protocol").get("calibration_groups").asText());
        assertEquals(4, j.get("protocol").get("query_tokens").asInt());
        assertTrue(j.get("protocol").get("data").asText().contains("MiniLM"));
        JsonNode fp16 = j.get("presets").get(0), compact = j.get("presets").get(2);
        assertEquals(0, fp16.get("residual").asInt());
        assertEquals(16, fp16.get("calibration_groups").asInt());
        assertEquals(8, compact.get("calibration_groups").asInt());
        assertEquals(64, compact.get("group_size").asInt());
        // every token in one-block 4 KiB fp16 pages: exactly FP16's 16 bits, no window, no tail
        assertEquals(16.0, fp16.get("total_bits").asDouble(), 1e-9);
        assertEquals(1.0, fp16.get("compression_ratio").asDouble(), 1e-9);
        assertEquals(4096, fp16.get("page_bytes").asInt());

        Path out2 = tmp.resolve("out2");
        CliInputTest.Run fixed = run("eval", "--data", "minilm", "--layers", "0", "--queries", "2", "--residual", "64",
                "--calibration-groups", "2", "--presets", "kivi-2", "--threads", "1", "--out", out2.toString());
        assertEquals(0, fixed.code(), fixed.err());
        assertTrue(fixed.out().contains("protocol: R 64, C 2, G 32 (residual window R from --residual; calibration groups C from "
                + "--calibration-groups)"), fixed.out());
        assertEquals(64, json(out2).get("presets").get(0).get("residual").asInt());

        assertUserError(run("eval", "--calibration-groups", "0"), "eval", "--calibration-groups must be between 1 and");
        assertUserError(run("eval", "--calibration-groups", "most"), "eval",
                "--calibration-groups must be a number of groups (1 or more) or 'all', got 'most'");
        assertUserError(run("eval", "--residual", "-1"), "eval", "--residual must be between 0 and");
        assertUserError(run("eval", "--data", "minilm", "--residual", "500", "--calibration-groups", "all"), "eval",
                "the 512 tokens of the data less the residual window R 500 hold no group of G 32");
        // the first block's threshold follows the flags: R 400 + 4 x 32 > 512
        assertUserError(run("eval", "--data", "minilm", "--residual", "400", "--presets", "kivi-2"), "eval",
                "--data minilm has 512 tokens, but kivi-2 writes its first block at 528 tokens (residual window R 400 + 4 calibration groups");
    }

    @Test
    void salientAndRandomProtectionCostTheSameBits(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        CliInputTest.Run r = run("eval", "--frames", "2", "--layers", "3", "--queries", "2", "--presets", "fp16", "--experiments",
                "--threads", "2", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode salient = null, random = null;
        for (JsonNode p : json(out).get("presets")) {
            if (p.get("preset").asText().equals("exp:protect-salient")) {
                salient = p;
            } else if (p.get("preset").asText().equals("exp:protect-random")) {
                random = p;
            }
        }
        assertTrue(salient != null && random != null, r.out());
        assertTrue(salient.get("protected_tokens").asLong() > 0);
        assertEquals(salient.get("protected_tokens").asLong(), random.get("protected_tokens").asLong());
        // before: 2.88 vs 2.99 bits; the same protected count in every block gives the same bytes
        assertEquals(salient.get("effective_bits").asDouble(), random.get("effective_bits").asDouble(), 0.0);
        assertEquals(salient.get("total_bits").asDouble(), random.get("total_bits").asDouble(), 0.0);
    }

    @Test
    void theSyntheticDataRejectShapeFlagsThatDisagree() {
        assertUserError(run("eval", "--kv-heads", "8"), "eval", "--kv-heads 8 differs from the synthetic data's 4 KV heads");
        assertUserError(run("eval", "--data", "minilm", "--head-dim", "64"), "eval",
                "--head-dim 64 differs from --data minilm's head dim 32");
    }
}
