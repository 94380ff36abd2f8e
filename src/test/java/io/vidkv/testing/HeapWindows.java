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

    /**
     * Which calls allocate in {@code steps} decode steps of every layer (tokens from+i of k and v, as
     * {@link Tokens#decodeSteps}): appends that quantize a group, appends that only fill the window,
     * and attention, each measured on its own. For the message of a failed steady-state check.
     */
    public static String byCall(io.vidkv.KvCache cache, io.vidkv.kernel.DecodeAttention attn, java.lang.foreign.MemorySegment k,
                                java.lang.foreign.MemorySegment v, int from, int steps, java.lang.foreign.MemorySegment q,
                                java.lang.foreign.MemorySegment out) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        io.vidkv.ModelShape shape = cache.shape();
        long tokenBytes = (long) shape.tokenElements() * Float.BYTES;
        long[] bytes = new long[3];
        int[] calls = new int[3];
        for (int t = 0; t < steps; t++) {
            java.lang.foreign.MemorySegment kt = k.asSlice((from + t) * tokenBytes, tokenBytes);
            java.lang.foreign.MemorySegment vt = v.asSlice((from + t) * tokenBytes, tokenBytes);
            for (int l = 0; l < shape.layers(); l++) {
                int quantized = cache.quantizedTokenCount(l);
                long before = mx.getCurrentThreadAllocatedBytes();
                cache.append(l, kt, vt, 1, io.vidkv.InputType.F32);
                long a = mx.getCurrentThreadAllocatedBytes() - before;
                int kind = cache.quantizedTokenCount(l) != quantized ? 0 : 1;
                bytes[kind] += a;
                calls[kind]++;
                before = mx.getCurrentThreadAllocatedBytes();
                attn.attend(l, q, out);
                bytes[2] += mx.getCurrentThreadAllocatedBytes() - before;
                calls[2]++;
            }
        }
        return "by call: appends quantizing a group " + bytes[0] + " B in " + calls[0] + ", other appends " + bytes[1] + " B in "
                + calls[1] + ", attention " + bytes[2] + " B in " + calls[2];
    }

    /** Whether {@link #untilQuiet} found a quiet window. */
    public static boolean quiet(long[] windows) {
        return windows[windows.length - 1] == 0;
    }
}
