package io.vidkv;

/**
 * How ternary value codes ({@link ValueSpec.Kind#TERNARY}) are packed in a block.
 * <ul>
 *   <li>{@link #PLANES}: two bit planes per channel (nonzero, negative) over the G tokens: 2 bits
 *       per value.
 *   <li>{@link #BASE3}: five tokens of a channel as one base-3 byte (3^5 = 243 &lt; 256), the G % 5
 *       remaining tokens in a short tail: 52 bits per channel at G = 32 (1.625 bits per value).
 *       Five tokens a byte because the value kernel turns one byte into the positive and negative
 *       masks of five tokens with one 243-entry lookup.
 * </ul>
 * Both decode to the same values; only the bytes per block differ. Exact offsets: the internal
 * {@code io.vidkv.layout.TernaryLayout}.
 */
public enum TernaryPacking {
    /** Two bit planes (nonzero, negative) per channel: 2 bits per value. */
    PLANES,
    /** Five trits per byte plus a tail: 1.6 to 1.625 bits per value, by G; what every ternary preset uses. */
    BASE3;
}
