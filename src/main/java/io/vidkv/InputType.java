package io.vidkv;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Element type of the key/value segments a caller passes to {@link KvCache#append}. Elements are
 * read in native byte order at any alignment and converted to float32 for the residual window.
 */
public enum InputType {
    /** IEEE 754 single precision, 4 bytes. */
    F32(4),
    /** IEEE 754 half precision, 2 bytes. */
    F16(2),
    /** bfloat16 (the upper 16 bits of a float32), 2 bytes. */
    BF16(2);

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort S = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final int bytes;

    InputType(int bytes) {
        this.bytes = bytes;
    }

    /**
     * Bytes per element: a segment of n elements must hold at least {@code n * bytes()} bytes.
     *
     * @return 4 for {@link #F32}, 2 for {@link #F16} and {@link #BF16}
     */
    public int bytes() {
        return bytes;
    }

    /**
     * Element {@code index} of {@code seg} as a float (exact: every F16 and BF16 value is a float).
     *
     * @param seg   the segment, read at byte offset {@code index * bytes()}
     * @param index the element index (not a byte offset)
     * @return the element converted to float32
     * @throws IndexOutOfBoundsException if the element lies outside {@code seg}
     * @throws IllegalStateException     if {@code seg}'s arena is closed
     */
    public float get(MemorySegment seg, long index) {
        return switch (this) {
            case F32 -> seg.get(F, index * 4);
            case F16 -> Float.float16ToFloat(seg.get(S, index * 2));
            case BF16 -> Float.intBitsToFloat((seg.get(S, index * 2) & 0xFFFF) << 16);
        };
    }
}
