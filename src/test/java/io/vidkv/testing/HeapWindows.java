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
     * Where the calling thread allocates while running {@code step.accept(i)} for i in
     * [first, first + steps): JFR's TLAB events with stack traces (a thread that allocates little
     * gets small TLABs, so a steady trickle still refills them), the top sites by bytes. For the
     * message of a failed steady-state check: it names the method that boxes.
     */
    public static String sites(IntConsumer step, int first, int steps) {
        java.util.Map<String, Long> bytes = new java.util.HashMap<>();
        try (jdk.jfr.Recording r = new jdk.jfr.Recording()) {
            r.enable("jdk.ObjectAllocationInNewTLAB").withStackTrace();
            r.enable("jdk.ObjectAllocationOutsideTLAB").withStackTrace();
            r.enable("jdk.ObjectAllocationSample").withStackTrace().with("throttle", "off");
            r.start();
            for (int i = first; i < first + steps; i++) {
                step.accept(i);
            }
            r.stop();
            java.nio.file.Path f = java.nio.file.Files.createTempFile("vidkv-alloc", ".jfr");
            try {
                r.dump(f);
                long me = Thread.currentThread().threadId();
                for (jdk.jfr.consumer.RecordedEvent e : jdk.jfr.consumer.RecordingFile.readAllEvents(f)) {
                    if (e.getThread() == null || e.getThread().getJavaThreadId() != me || e.getStackTrace() == null) {
                        continue;
                    }
                    StringBuilder site = new StringBuilder(e.getClass("objectClass").getName());
                    int shown = 0;
                    for (jdk.jfr.consumer.RecordedFrame fr : e.getStackTrace().getFrames()) {
                        String m = fr.getMethod().getType().getName() + "." + fr.getMethod().getName();
                        if (m.startsWith("io.vidkv") && shown++ < 4) {
                            site.append(" < ").append(m.substring(m.lastIndexOf('.', m.lastIndexOf('.') - 1) + 1))
                                    .append(':').append(fr.getLineNumber());
                        }
                    }
                    long w = e.hasField("weight") ? e.getLong("weight")
                            : e.hasField("tlabSize") ? e.getLong("tlabSize") : e.getLong("allocationSize");
                    bytes.merge(site.toString(), w, Long::sum);
                }
            } finally {
                java.nio.file.Files.deleteIfExists(f);
            }
        } catch (java.io.IOException | RuntimeException e) {
            return "allocation sites unavailable: " + e;
        }
        return bytes.entrySet().stream().sorted(java.util.Map.Entry.<String, Long>comparingByValue().reversed()).limit(6)
                .map(en -> en.getValue() + " B " + en.getKey()).collect(java.util.stream.Collectors.joining("; ", "sites: ", ""));
    }

    /** Whether {@link #untilQuiet} found a quiet window. */
    public static boolean quiet(long[] windows) {
        return windows[windows.length - 1] == 0;
    }
}
