package io.vidkv.cli;

import io.vidkv.CacheConfig;
import io.vidkv.LayerConfig;
import io.vidkv.ModelShape;
import picocli.CommandLine.Model.CommandSpec;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The peak memory a command will hold, estimated before it starts from the sizes its code
 * allocates, so that sizes which cannot fit are rejected with what they would need instead of an
 * {@code OutOfMemoryError} minutes into the run. Estimates are in doubles: a typo's size may not
 * fit a long.
 *
 * <p>The cache estimate mirrors the library's layout (one page ring and one float32 residual window
 * per layer and KV head, pages of {@link CacheConfig#DEFAULT_PAGE_BYTES}, a block directory of a few
 * ints per block on the heap); it is an estimate, within a few percent for the sizes that matter.
 */
final class Footprint {

    private static final double GIB = 1024.0 * 1024 * 1024;

    private final List<String> nativeParts = new ArrayList<>();
    private final List<String> heapParts = new ArrayList<>();
    private double nativeBytes;
    private double heapBytes;

    Footprint offHeap(String what, double bytes) {
        nativeBytes += bytes;
        nativeParts.add(what + " " + gib(bytes));
        return this;
    }

    Footprint heap(String what, double bytes) {
        heapBytes += bytes;
        heapParts.add(what + " " + gib(bytes));
        return this;
    }

    /** float32 K and V of {@code tokens} tokens of {@code layers} layers (the input the commands generate or read). */
    static double inputBytes(ModelShape shape, double layers, double tokens) {
        return 2.0 * layers * tokens * shape.tokenElements() * Float.BYTES;
    }

    /** Off-heap bytes of one sequence of {@code layers} layers of {@code c} holding {@code tokens} tokens. */
    static double cacheNativeBytes(ModelShape shape, LayerConfig c, double layers, double tokens) {
        int d = shape.headDim();
        // Upper bound: every token of a group protected (presets with protection store those at 2 bits).
        double block = c.maxBlockBytes(d);
        double blocksPerPage = Math.max(1, Math.floor(CacheConfig.DEFAULT_PAGE_BYTES / block));
        double pages = Math.ceil(Math.ceil(tokens / c.groupSize()) / blocksPerPage);
        double window = 2.0 * c.windowCapacity() * d * Float.BYTES;
        return layers * shape.kvHeads() * (pages * CacheConfig.DEFAULT_PAGE_BYTES + window);
    }

    /**
     * Heap bytes of one sequence's directory sized for {@code capacity} tokens: per block and KV head
     * a page slot, page and offset ints and a reference (HeadStream), plus the pool's and the page
     * reservation's reference arrays.
     */
    static double cacheHeapBytes(ModelShape shape, LayerConfig c, double layers, double capacity) {
        double blocks = (capacity / c.groupSize() + 2) * shape.kvHeads();
        return layers * blocks * (24 + 8) + blocks * 8 + capacity / 8;
    }

    /** Rejects the run, naming {@code flags}, when the estimate exceeds physical memory or the maximum heap. */
    void check(CommandSpec spec, String flags) {
        double physical = physicalBytes();
        double maxHeap = Runtime.getRuntime().maxMemory();
        if (nativeBytes > physical || nativeBytes + heapBytes > physical) {
            throw Checks.error(spec, flags + " would need about " + gib(nativeBytes + heapBytes) + " of memory ("
                    + String.join(", ", parts()) + "), more than the " + gib(physical) + " of physical memory");
        }
        if (heapBytes > maxHeap) {
            throw Checks.error(spec, flags + " would need about " + gib(heapBytes) + " of Java heap ("
                    + String.join(", ", heapParts) + "), more than this JVM's maximum heap of " + gib(maxHeap)
                    + " (raise it with VIDKV_JAVA_OPTS=-Xmx<size>)");
        }
    }

    private List<String> parts() {
        List<String> all = new ArrayList<>(nativeParts);
        heapParts.forEach(p -> all.add(p + " heap"));
        return all;
    }

    double nativeBytes() {
        return nativeBytes;
    }

    double heapBytes() {
        return heapBytes;
    }

    /** Physical memory (the container's limit when there is one: the JDK's OS bean is container-aware). */
    static double physicalBytes() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getTotalMemorySize();
        }
        return Double.MAX_VALUE;
    }

    static String gib(double bytes) {
        double g = bytes / GIB;
        return String.format(Locale.ROOT, g >= 100 ? "%,.0f GiB" : g >= 0.1 ? "%.1f GiB" : "%.2f GiB", g);
    }
}
