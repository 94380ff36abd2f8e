package io.vidkv.testing;

import java.util.function.IntConsumer;

/**
 * Steady-state allocation checks: steps run in windows until one window allocates no heap byte on
 * the calling thread ({@code ThreadMXBean#getCurrentThreadAllocatedBytes}). A late JIT
 * recompilation may run a method interpreted once (where Vector API code boxes), so a few windows
 * are tried; a path that allocates per step never has a quiet window.
 */
public final class HeapWindows {

    private HeapWindows() {
    }

    /**
     * Runs {@code step.accept(i)} for i = first, first + 1, ... in windows of {@code perWindow} until
     * a window allocated nothing or {@code maxWindows} windows ran.
     *
     * @return the bytes each window allocated; the last is 0 exactly when a quiet window was found
     */
    public static long[] untilQuiet(IntConsumer step, int first, int perWindow, int maxWindows) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long[] windows = new long[maxWindows];
        int i = first;
        for (int w = 0; w < maxWindows; w++) {
            long before = mx.getCurrentThreadAllocatedBytes();
            for (int end = i + perWindow; i < end; i++) {
                step.accept(i);
            }
            windows[w] = mx.getCurrentThreadAllocatedBytes() - before;
            if (windows[w] == 0) {
                return java.util.Arrays.copyOf(windows, w + 1);
            }
        }
        return windows;
    }

    /** Whether {@link #untilQuiet} found a quiet window. */
    public static boolean quiet(long[] windows) {
        return windows[windows.length - 1] == 0;
    }
}
