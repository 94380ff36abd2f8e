package io.vidkv;

/**
 * The token positions of one sequence whose values are kept at 2 bits, one bit per position below
 * the capacity's {@code maxTokens}. Shared by all layers: a block's size depends on how many of its
 * tokens are protected, so page planning, the write phase and eviction read their counts here.
 */
final class ProtectedTokens {

    private final int maxTokens;
    private final long[] bits;

    ProtectedTokens(int maxTokens) {
        this.maxTokens = maxTokens;
        this.bits = new long[(maxTokens + 63) / 64];
    }

    /** Positions that can be protected: [0, maxTokens). */
    int limit() {
        return maxTokens;
    }

    boolean contains(int position) {
        return position >= 0 && position < maxTokens && (bits[position >>> 6] >>> (position & 63) & 1) != 0;
    }

    /** Bit t of the result: token {@code first + t} is protected ({@code count} <= 64). */
    long mask(int first, int count) {
        // a group lies in at most two words; words past maxTokens (reachable only by evicting) are
        // never protected, and no bit at or past maxTokens is ever set inside the last word
        int w = first >>> 6, shift = first & 63;
        long m = w < bits.length ? bits[w] >>> shift : 0;
        if (shift != 0 && w + 1 < bits.length) {
            m |= bits[w + 1] << (64 - shift);
        }
        return count >= 64 ? m : m & ((1L << count) - 1);
    }

    /** Protected tokens among the {@code count} from {@code first}: what sizes the group's value block. */
    int count(int first, int count) {
        return Long.bitCount(mask(first, count));
    }

    /** Copies {@code other}'s positions (a fork; both have the same limit). */
    void copyFrom(ProtectedTokens other) {
        System.arraycopy(other.bits, 0, bits, 0, bits.length);
    }

    /** The positions as 64-bit words, bit p of word p / 64 (the snapshot writer's view; do not modify). */
    long[] words() {
        return bits;
    }

    /** Protects {@code position}; the caller checked it is in [0, maxTokens) and not yet quantized. */
    void add(int position) {
        bits[position >>> 6] |= 1L << (position & 63);
    }
}
