package io.vidkv.kernel;

import io.vidkv.codec.HeadState;

import java.lang.foreign.MemorySegment;

/**
 * Accumulates one value block of a layout family straight from its codes into the running output
 * of one lane group: {@code out[outOff + c * LANES + j] = out * s.rescale[j] + sum_t p[t][j] v[t][c]},
 * with the block's softmax weights in {@code s.scores} (as lane vectors, zero past the visible tokens).
 */
interface ValueKernel {

    void accumulate(MemorySegment page, long off, HeadState state, BlockScratch s, float[] out, int outOff);
}
