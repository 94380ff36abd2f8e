package io.vidkv.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vidkv.ParallelRunner;
import io.vidkv.Preset;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The layout scripts/dump_kv.py writes, produced here by a minimal writer, read back and evaluated.
 * Public with its writer: the CLI tests write .safetensors inputs with it.
 */
public class SafetensorsSourceTest {

    /** Writes tensors (name, dtype, shape, float data) in the safetensors format, optionally corrupting the header. */
    public static byte[] write(List<Object[]> tensors, String headerOverride) throws Exception {
        ObjectMapper m = new ObjectMapper();
        ObjectNode header = m.createObjectNode();
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (Object[] t : tensors) {
            String name = (String) t[0], dtype = (String) t[1];
            long[] shape = (long[]) t[2];
            float[] values = (float[]) t[3];
            int begin = data.size();
            ByteBuffer b = ByteBuffer.allocate(values.length * (dtype.equals("F32") ? 4 : 2)).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : values) {
                if (dtype.equals("F32")) {
                    b.putFloat(v);
                } else if (dtype.equals("F16")) {
                    b.putShort(Float.floatToFloat16(v));
                } else {
                    b.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
                }
            }
            data.writeBytes(b.array());
            ObjectNode n = header.putObject(name);
            n.put("dtype", dtype);
            var s = n.putArray("shape");
            for (long x : shape) {
                s.add(x);
            }
            n.putArray("data_offsets").add(begin).add(data.size());
        }
        header.putObject("__metadata__").put("description", "test dump");
        byte[] h = (headerOverride != null ? headerOverride : m.writeValueAsString(header)).getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + data.size()).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(h.length).put(h).put(data.toByteArray());
        return out.array();
    }

    public static float[] random(SplittableRandom rnd, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) rnd.nextGaussian();
        }
        return f;
    }

    @Test
    void dumpLayoutRoundTripsAndEvaluates(@TempDir Path dir) throws Exception {
        SplittableRandom rnd = TestSeeds.random(61);
        int tokens = 300, kvh = 2, d = 64, qh = 4, nq = 5;
        List<Object[]> ts = new java.util.ArrayList<>();
        for (int l = 0; l < 2; l++) {
            ts.add(new Object[]{"layers." + l + ".key", "F16", new long[]{tokens, kvh, d}, random(rnd, tokens * kvh * d)});
            ts.add(new Object[]{"layers." + l + ".value", "BF16", new long[]{tokens, kvh, d}, random(rnd, tokens * kvh * d)});
            ts.add(new Object[]{"layers." + l + ".query", "F32", new long[]{nq, qh, d}, random(rnd, nq * qh * d)});
            ts.add(new Object[]{"layers." + l + ".key_pre_rope", "F16", new long[]{tokens, kvh, d}, random(rnd, tokens * kvh * d)});
        }
        Path f = dir.resolve("kv.safetensors");
        Files.write(f, write(ts, null));
        SafetensorsSource src = SafetensorsSource.open(f);
        assertEquals(2, src.shape().layers());
        assertEquals(4, src.shape().queryHeads());
        assertEquals(2, src.shape().kvHeads());
        assertEquals(tokens, src.tokens());
        assertTrue(src.description().contains("test dump"));
        try (Arena arena = Arena.ofConfined()) {
            LayerData data = src.layer(1, arena);
            float[] key = (float[]) ts.get(4)[3];
            assertEquals(Float.float16ToFloat(Float.floatToFloat16(key[123])), data.keys().getAtIndex(ValueLayout.JAVA_FLOAT, 123));
            assertEquals(tokens - nq, data.queryPositions()[0]);
        }
        try (ParallelRunner runner = new ParallelRunner(2)) {
            List<Evaluator.Result> r = new Evaluator(src, List.of(0, 1), runner, 32).run(
                    List.of(Variant.of(Preset.FP16), Variant.of(Preset.VIDKV_15_158)), s -> { });
            assertTrue(r.get(0).attnRelError() < 1e-2 && r.get(1).attnRelError() > r.get(0).attnRelError());
        }
    }

    @Test
    void malformedFilesAreRejectedWithClearMessages(@TempDir Path dir) throws Exception {
        SplittableRandom rnd = TestSeeds.random(62);
        List<Object[]> ok = List.of(new Object[]{"layers.0.key", "F32", new long[]{10, 1, 8}, random(rnd, 80)},
                new Object[]{"layers.0.value", "F32", new long[]{10, 1, 8}, random(rnd, 80)});
        byte[] good = write(ok, null);
        check(dir, java.util.Arrays.copyOf(good, good.length - 4), "outside");                       // truncated
        check(dir, write(List.of(new Object[]{"layers.0.key", "F64", new long[]{10, 1, 8}, random(rnd, 40)},
                ok.get(1)), null), "dtype 'F64'");                                                     // wrong dtype
        byte[] lying = good.clone();
        ByteBuffer.wrap(lying).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        check(dir, lying, "declares a header");                                                       // lying header length
        check(dir, write(ok, "{\"layers.0.key\": {\"dtype\": \"F32\", \"shape\": [4000000000, 4000000000, 8], "
                + "\"data_offsets\": [0, 320]}, \"layers.0.value\": {\"dtype\": \"F32\", \"shape\": [10, 1, 8], "
                + "\"data_offsets\": [320, 640]}}"), "invalid dimension");                            // huge shape
        check(dir, write(ok, "{\"layers.0.key\": {\"dtype\": \"F32\", \"shape\": [10, 1, 8], \"data_offsets\": [0, 300]}, "
                + "\"layers.0.value\": {\"dtype\": \"F32\", \"shape\": [10, 1, 8], \"data_offsets\": [320, 640]}}"), "needs 320");
        check(dir, write(ok, "not json"), "not JSON");
        check(dir, new byte[]{1, 2, 3}, "shorter than");
    }

    private static void check(Path dir, byte[] bytes, String expected) throws Exception {
        Path f = Files.createTempFile(dir, "bad", ".safetensors");
        Files.write(f, bytes);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafetensorsSource.open(f));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
