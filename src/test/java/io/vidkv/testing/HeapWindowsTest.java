package io.vidkv.testing;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The steady-state check's helpers: a step that allocates is never quiet, and its site is named. */
class HeapWindowsTest {

    private static volatile Object sink;

    private static void allocatingStep(int i) {
        sink = new long[64 + (i & 7)];
    }

    @Test
    void anAllocatingStepIsNeverQuietAndItsSiteIsNamed() {
        long[] windows = HeapWindows.untilQuiet(HeapWindowsTest::allocatingStep, 0, 200, 3);
        assertFalse(HeapWindows.quiet(windows));
        String sites = HeapWindows.sites(HeapWindowsTest::allocatingStep, 0, 200_000);
        assertTrue(sites.contains("HeapWindowsTest.allocatingStep"), sites);
    }

    @Test
    void aStepThatAllocatesNothingIsQuiet() {
        long[] sum = new long[1];
        long[] windows = HeapWindows.untilQuiet(i -> sum[0] += i, 0, 200, 20);
        assertTrue(HeapWindows.quiet(windows), java.util.Arrays.toString(windows));
    }
}
