package io.vidkv.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.vidkv.ModelShape;
import io.vidkv.eval.LayerData;
import io.vidkv.eval.SafetensorsSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link SafetensorsSource} on arbitrary bytes written to a temporary file. Documented outcomes: a
 * source whose every layer loads with exactly the sizes its shape claims, or an
 * {@link IllegalArgumentException} naming the file (or an {@link IOException}); nothing else, and
 * no allocation beyond what the file holds. Corpus:
 * {@code src/test/resources/io/vidkv/fuzz/SafetensorsSourceFuzzTestInputs/open}.
 */
class SafetensorsSourceFuzzTest {

    private static Path file;

    private static synchronized Path file() throws IOException {
        if (file == null) {
            file = Files.createTempFile("vidkv-fuzz", ".safetensors");
            file.toFile().deleteOnExit();
        }
        return file;
    }

    @FuzzTest(maxDuration = "2m")
    void open(byte[] bytes) throws IOException {
        Path f = file();
        Files.write(f, bytes);
        SafetensorsSource src;
        try {
            src = SafetensorsSource.open(f);
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage() != null && e.getMessage().contains(f.toString()), "the message names the file: " + e.getMessage());
            return;
        }
        ModelShape shape = src.shape();
        int tokens = src.tokens();
        assertTrue(tokens > 0);
        long row = (long) shape.kvHeads() * shape.headDim() * 4;
        assertTrue(tokens * row <= 2L * bytes.length, "declared keys bigger than the file can hold");
        try (Arena arena = Arena.ofConfined()) {
            for (int l = 0; l < shape.layers(); l++) {
                LayerData d = src.layer(l, arena);
                assertEquals(tokens, d.tokens());
                assertEquals(tokens * row, d.keys().byteSize(), "layer " + l + " keys");
                assertEquals(tokens * row, d.values().byteSize(), "layer " + l + " values");
                int nq = d.queryPositions().length;
                assertTrue(nq >= 1 && nq <= tokens, "query tokens " + nq);
                for (int p : d.queryPositions()) {
                    assertTrue(p >= 0 && p < tokens, "query position " + p);
                }
                assertEquals(nq, d.queryTokens());
                assertEquals((long) nq * shape.queryHeads() * shape.headDim() * 4, d.queries().byteSize(),
                        "layer " + l + " queries are [" + nq + ", " + shape.queryHeads() + ", " + shape.headDim() + "] float32");
            }
        }
    }
}
