package io.vidkv;

/**
 * How ternary value codes are packed.
 * <ul>
 *   <li>{@link #PLANES}: two bit planes per channel (nonzero, negative) over the G tokens: 2 bits
 *       per value.
 *   <li>{@link #BASE3}: five tokens of a channel as one base-3 byte (3^5 = 243 < 256), the G % 5
 *       remaining tokens in a short tail: 52 bits per channel at G = 32 (1.625 bits per value).
 *       Five tokens a byte because the value kernel turns one byte into the positive and negative
 *       masks of five tokens with one 243-entry lookup.
 * </ul>
 * Exact offsets: {@link io.vidkv.layout.TernaryLayout}.
 */
public enum TernaryPacking {
    PLANES, BASE3;
}
