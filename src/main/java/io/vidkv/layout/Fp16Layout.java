package io.vidkv.layout;

/**
 * FP16 keys and values (the {@code fp16} preset): no quantization, IEEE half precision.
 *
 * <pre>
 * keys block   x[t][c] as a little-endian half at 2 * (t * d + c), t < G, c < d    2 G d bytes
 * values block the same, token-major
 * </pre>
 * Token-major for both, because the kernel broadcasts one element at a time against the query heads
 * held in vector lanes, and converts a whole block to float32 in one contiguous pass.
 */
public final class Fp16Layout {

    private final int groupSize;
    private final int headDim;

    public Fp16Layout(int groupSize, int headDim) {
        this.groupSize = groupSize;
        this.headDim = headDim;
    }

    /** Byte offset of element (t, c) from the block start. */
    public long element(int t, int c) {
        return 2L * (t * headDim + c);
    }

    public long blockBytes() {
        return 2L * groupSize * headDim;
    }
}
