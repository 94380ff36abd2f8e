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

    /** Whether any layer's values keep protected tokens at 2 bits. */
    private static boolean storesProtectedTokens(LayerStore[] layers) {
        for (LayerStore ls : layers) {
            if (ls.config.values().protection()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Protects {@code positions} after checking all of them against {@code layers} (nothing changes
     * if one is rejected): every position in range and not yet quantized in any layer, and some
     * layer that stores protected tokens ({@link KvCache#protect}'s rules).
     */
    void protect(int[] positions, LayerStore[] layers) {
        if (positions.length > 0 && !storesProtectedTokens(layers)) {
            // marking tokens that no layer will ever store differently would be a silent no-op
            throw new IllegalStateException("no layer of this cache stores protected tokens (" + layers[0].name
                    + "): protection needs a ValueSpec with protection, e.g. preset vidkv-1.5/1.66-stp; nothing was marked");
        }
        int which = -1;
        int maxQuantized = 0;
        for (int l = 0; l < layers.length; l++) {
            if (layers[l].quantizedTokens > maxQuantized) {
                maxQuantized = layers[l].quantizedTokens;
                which = l;
            }
        }
        for (int p : positions) {
            if (p < 0 || p >= maxTokens) {
                throw new IllegalArgumentException("protected token " + p + " out of range [0, " + maxTokens + ")");
            }
            if (p < maxQuantized) {
                throw new IllegalStateException("token " + p + " is already quantized in layer " + which + " (tokens [0, "
                        + maxQuantized + ") are); protection must be set before a token's group is quantized, "
                        + "e.g. before the prefill append");
            }
        }
        for (int p : positions) {
            add(p);
        }
    }
}
