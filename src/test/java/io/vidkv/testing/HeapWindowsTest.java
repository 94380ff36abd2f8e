package io.vidkv.testing;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The steady-state check's windows: a step that allocates is never quiet, one that does not is. */
class HeapWindowsTest {

    private static volatile Object sink;

    private static void allocatingStep(int i) {
        sink = new long[64 + (i & 7)];
    }

    @Test
    void anAllocatingStepIsNeverQuiet() {
        long[] windows = HeapWindows.untilQuiet(HeapWindowsTest::allocatingStep, 0, 200, 3);
        assertFalse(HeapWindows.quiet(windows));
        assertTrue(windows.length == 3 && windows[2] >= 200 * 16, java.util.Arrays.toString(windows));
    }

    @Test
    void aStepThatAllocatesNothingIsQuiet() {
        long[] sum = new long[1];
        long[] windows = HeapWindows.untilQuiet(i -> sum[0] += i, 0, 200, 20);
        assertTrue(HeapWindows.quiet(windows), java.util.Arrays.toString(windows));
    }
}
