package io.vidkv.kernel;

import java.lang.foreign.MemorySegment;

/**
 * Scores of token-major key bit strings (the key layouts of {@code UniformLayout} and
 * {@code VidkvKeyLayout}) given one weight per bit: score(t) = bias + sum over bits i set in token
 * t's string of w_i. Word by word (64 bits of every token), the 16 bit tables of that word are
 * built (8 KB, so they stay in L1 beside the codes) and every token adds the 16 entries its nibbles
 * select.
 */
final class BitStringScores {

    private BitStringScores() {
    }

    /**
     * {@code s.scores[t * LANES + j]} for t < tokens from the weights in {@code s.weights} (bits
     * [0, bits), lane vectors) and {@code s.bias}; token t's string at {@code codes + t * stride}.
     */
    static void score(KernelMath math, MemorySegment seg, long codes, int bits, int stride, int tokens, BlockScratch s) {
        int words = (bits + 63) / 64;
        java.util.Arrays.fill(s.weights, bits * KernelMath.LANES, words * 64 * KernelMath.LANES, 0f);
        for (int w = 0; w < words; w++) {
            int left = bits - 64 * w;
            long mask = left >= 64 ? -1L : (1L << left) - 1;
            math.bitTables(s.weights, 64 * w, s.bitTables);
            math.scoreWord(seg, codes, stride, w, mask, tokens, s.bitTables, s.bias, s.scores);
        }
    }
}
