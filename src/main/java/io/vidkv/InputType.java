package io.vidkv;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Element type of the key/value/query segments a caller passes in. */
public enum InputType {
    F32(4), F16(2), BF16(2);

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort S = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final int bytes;

    InputType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    /** Element {@code index} of {@code seg} as a float. */
    public float get(MemorySegment seg, long index) {
        return switch (this) {
            case F32 -> seg.get(F, index * 4);
            case F16 -> Float.float16ToFloat(seg.get(S, index * 2));
            case BF16 -> Float.intBitsToFloat((seg.get(S, index * 2) & 0xFFFF) << 16);
        };
    }
}
