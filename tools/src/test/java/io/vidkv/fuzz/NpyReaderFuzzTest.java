package io.vidkv.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.vidkv.eval.NpyReader;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link NpyReader#parse} on arbitrary bytes. Documented outcomes: an array, or an
 * {@link IllegalArgumentException} naming the file; never another exception, a read past the end,
 * or an allocation larger than the file can hold (at most 2 output bytes per input byte, float16
 * widening to float32). Corpus: {@code src/test/resources/io/vidkv/fuzz/NpyReaderFuzzTestInputs/parse}.
 */
class NpyReaderFuzzTest {

    static final String NAME = "fuzz.npy";

    @FuzzTest(maxDuration = "2m")
    void parse(byte[] bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocate(Math.max(1, bytes.length));
            MemorySegment.copy(bytes, 0, in, ValueLayout.JAVA_BYTE, 0, bytes.length);
            NpyReader.Array a;
            try {
                a = NpyReader.parse(in.asSlice(0, bytes.length), NAME, arena);
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage() != null && e.getMessage().contains(NAME), "the message names the file: " + e.getMessage());
                return;
            }
            long elements = 1;
            for (long s : a.shape()) {
                assertTrue(s > 0, "dimensions are positive");
                elements = Math.multiplyExact(elements, s);
            }
            assertEquals(elements, a.elements());
            assertEquals(elements * 4, a.data().byteSize(), "float32 output of the shape's size");
            assertTrue(a.data().byteSize() <= 2L * bytes.length, "output bigger than the file can hold: " + a.data().byteSize());
            // the data are the last bytes of the file: float32 verbatim, float16 widened
            long dataBytes = bytes.length - (long) headerEnd(bytes);
            if (dataBytes >= elements * 4 && looksF4(bytes)) {
                long start = headerEnd(bytes);
                for (long i = 0; i < Math.min(elements, 16); i++) {
                    int bits = (bytes[(int) (start + 4 * i)] & 0xFF) | (bytes[(int) (start + 4 * i + 1)] & 0xFF) << 8
                            | (bytes[(int) (start + 4 * i + 2)] & 0xFF) << 16 | (bytes[(int) (start + 4 * i + 3)] & 0xFF) << 24;
                    assertEquals(bits, Float.floatToRawIntBits(a.data().getAtIndex(ValueLayout.JAVA_FLOAT, i)), "element " + i);
                }
            }
        }
    }

    /** Offset of the data: preamble plus the declared header length (the reader accepted it). */
    private static int headerEnd(byte[] b) {
        if (b[6] == 1) {
            return 10 + ((b[8] & 0xFF) | (b[9] & 0xFF) << 8);
        }
        return 12 + ((b[8] & 0xFF) | (b[9] & 0xFF) << 8 | (b[10] & 0xFF) << 16 | (b[11] & 0xFF) << 24);
    }

    private static boolean looksF4(byte[] b) {
        String header = new String(b, 0, headerEnd(b), java.nio.charset.StandardCharsets.ISO_8859_1);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("'descr'\\s*:\\s*'([^']*)'").matcher(header);
        return m.find() && (m.group(1).equals("<f4") || m.group(1).equals("float32"));
    }
}
