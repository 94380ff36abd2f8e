package io.vidkv.kernel;

import io.vidkv.codec.HeadState;

import java.lang.foreign.MemorySegment;

/**
 * Scores one key block of a layout family straight from its codes, for the query heads of one
 * lane group (up to {@link KernelMath#LANES} query heads sharing a KV head) at once.
 */
interface KeyKernel {

    /**
     * Once per step and lane group: {@code heads} queries {@code q[qOff + j * d + c]} mapped into the
     * layout's row space and scaled by {@code scale}, written as lane vectors
     * {@code out[outOff + r * LANES + j]} (lanes >= heads are zero).
     */
    void prepare(float[] q, int qOff, int heads, float scale, HeadState state, float[] out, int outOff, BlockScratch s);

    /**
     * Scores of the block at {@code off} of {@code page}: {@code s.scores[t * LANES + j]} for every
     * token t of the group, against the prepared queries at {@code prepared[pOff ..]} (the raw
     * queries {@code q[qOff + j * d + c]} too, for layouts whose row space changes per block).
     */
    void score(MemorySegment page, long off, HeadState state, float[] prepared, int pOff, float[] q, int qOff, int heads,
               float scale, BlockScratch s);
}
