package io.vidkv.codec;

/**
 * How ternary value codes are packed.
 * <ul>
 *   <li>{@link #PLANES}: two bit planes per token (nonzero, negative) over the d channels: 2 bits
 *       per value; a byte of each plane covers 8 channels, one table load each to unpack.
 *   <li>{@link #BASE3}: 8 channels of a token as one base-3 number (3^8 = 6561 < 2^13) in a 13-bit
 *       field: 1.625 bits per value, unpacked by one lookup in a 6561 x 8 table. Chosen over the
 *       classic 5 trits per byte (1.6 bits) because a field then covers exactly one 8-lane vector.
 * </ul>
 */
public enum TernaryPacking {
    PLANES, BASE3;

    /** Bytes of one token's d codes. */
    public int tokenBytes(int headDim) {
        return this == PLANES ? 2 * (headDim / 8) : (headDim / 8 * 13 + 7) / 8;
    }
}
