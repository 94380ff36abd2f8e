package io.vidkv.kernel;

import java.lang.foreign.MemorySegment;

/**
 * Scores of key blocks stored as bit rows over the tokens (the key layouts of {@code UniformLayout}
 * and {@code VidkvKeyLayout}) given one folded weight per bit row and query head: score(t) = bias +
 * the sum of the weights of the rows whose bit t is set ({@link KernelMath#planeScores}).
 */
final class BitPlaneScores {

    private BitPlaneScores() {
    }

    /** {@code s.scores[t * LANES + j]} for the G tokens, from {@code s.weights} and {@code s.bias}. */
    static void score(KernelMath math, MemorySegment seg, long codes, int rows, int groupSize, BlockScratch s) {
        math.planeScores(seg, codes, rows, groupSize, s.weights, s.bias, s.byHead, s.scores);
    }
}
