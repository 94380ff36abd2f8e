package io.vidkv.eval;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NpyReaderTest {

    static byte[] npy(String header, int dataBytes, int version) {
        return io.vidkv.testing.NpyFiles.build(header, dataBytes, version, 0f);
    }

    static NpyReader.Array parse(byte[] bytes) {
        Arena arena = Arena.ofAuto();
        MemorySegment s = arena.allocate(bytes.length);
        MemorySegment.copy(bytes, 0, s, ValueLayout.JAVA_BYTE, 0, bytes.length);
        return NpyReader.parse(s, "test.npy", arena);
    }

    @Test
    void readsFloat32InVersions1And2() {
        for (int v : new int[]{1, 2}) {
            NpyReader.Array a = parse(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 48, v));
            assertArrayEquals(new long[]{3, 4}, a.shape());
            assertEquals(5.5f, a.data().getAtIndex(ValueLayout.JAVA_FLOAT, 11));
        }
    }

    @Test
    void malformedFilesGiveClearErrorsWithoutReadingPastTheEndOrAllocating() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> parse(java.util.Arrays.copyOf(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 48, 1), 140)));
        assertTrue(e.getMessage().contains("truncated or the header lies"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> parse(npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 24, 1)));
        assertTrue(e.getMessage().contains("dtype '<i8'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> parse(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, 1)));
        assertTrue(e.getMessage().contains("Fortran order"), e.getMessage());
        // a huge declared shape: rejected by arithmetic, nothing of that size is allocated
        e = assertThrows(IllegalArgumentException.class,
                () -> parse(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000, 4000000000), }", 16, 1)));
        assertTrue(e.getMessage().contains("too large") || e.getMessage().contains("header lies"), e.getMessage());
        // a header length pointing past the end
        byte[] lying = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8, 1);
        lying[8] = (byte) 0xFF;
        lying[9] = (byte) 0x7F;
        e = assertThrows(IllegalArgumentException.class, () -> parse(lying));
        assertTrue(e.getMessage().contains("declares a header of"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> parse(new byte[]{1, 2, 3}));
        assertTrue(e.getMessage().contains("shorter than"), e.getMessage());
        byte[] badMagic = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8, 1);
        badMagic[1] = 'X';
        e = assertThrows(IllegalArgumentException.class, () -> parse(badMagic));
        assertTrue(e.getMessage().contains("magic"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> parse(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }", 8, 1)));
        assertTrue(e.getMessage().contains("non-integer") || e.getMessage().contains("non-positive"), e.getMessage());
    }
}
