package io.vidkv.kernel;

import io.vidkv.codec.CodecScratch;

import static io.vidkv.kernel.KernelMath.LANES;

/**
 * Per-thread working memory of the decode kernels, sized once for every layer of a cache so that a
 * decode step allocates nothing. All arrays hold lane vectors (see {@link KernelMath}) unless noted.
 */
final class BlockScratch implements AutoCloseable {

    /** Tokens of one residual-window tile. */
    static final int WINDOW_TILE = 32;

    /** Folded weights of a key block's bit rows: [row][lane]. */
    final float[] weights;
    /** Scores of up to 16 tokens by query head, before the transpose to [t][lane]. */
    final float[] byHead = new float[16 * LANES];
    /** Token tables of one block's probabilities (ceil(G / 5) tables). */
    final float[] tokenTables;
    final float[] bias = new float[LANES];
    /** Scores, then softmax weights, of one block or window tile: [t][lane]. */
    final float[] scores;
    /** Queries transformed for one block (per-group channel split). */
    final float[] blockQueries;
    /** Dense float rows [t][c] of one block or window tile (FP16, dequantized, window). */
    final float[] rows;
    /** Per-channel scalars: scales, zero points, multipliers; per-token scalars. */
    final float[] scales;
    final float[] zeros;
    final float[] mul;
    final float[] perToken;
    /** All ones: the per-token scale of values that have none. */
    final float[] ones;
    final float[] tokenZeros;
    /** Per-channel lane vectors added after the code sums (zero-point terms). */
    final float[] add;
    final float[] rescale = new float[LANES];
    final float[] max = new float[LANES];
    final float[] sum = new float[LANES];
    /** The running output of the current work item: [c][lane]. */
    final float[] out;
    /** FFTW buffers and plans for per-block query transforms and dequantizing fallbacks. */
    final CodecScratch codec;

    BlockScratch(int headDim, int maxGroup, int maxQueries) {
        int tokens = Math.max(maxGroup, WINDOW_TILE);
        weights = new float[8 * headDim * LANES]; // up to 8 bits per channel
        tokenTables = new float[(maxGroup + 4) / 5 * KernelMath.TOKEN_TABLE];
        scores = new float[tokens * LANES];
        blockQueries = new float[headDim * LANES];
        rows = new float[tokens * headDim];
        scales = new float[Math.max(headDim, maxGroup * headDim / 8)];
        zeros = new float[scales.length];
        mul = new float[headDim];
        perToken = new float[maxGroup];
        ones = new float[maxGroup];
        java.util.Arrays.fill(ones, 1f);
        tokenZeros = new float[maxGroup];
        add = new float[headDim * LANES];
        out = new float[headDim * LANES];
        codec = new CodecScratch(headDim, maxGroup, maxQueries);
    }

    /** Lane vectors out[r * LANES + j] of rows q[qOff + j * d + r], j < heads; other lanes zero. */
    static void toLanes(float[] q, int qOff, int heads, int d, float[] out, int outOff) {
        for (int r = 0; r < d; r++) {
            for (int j = 0; j < LANES; j++) {
                out[outOff + r * LANES + j] = j < heads ? q[qOff + j * d + r] : 0f;
            }
        }
    }

    /** Lane vectors of q[qOff + j * d + c] * scale: channel-space queries (window, dense blocks). */
    static void scaledLanes(float[] q, int qOff, int heads, int d, float scale, float[] out, int outOff) {
        for (int c = 0; c < d; c++) {
            for (int j = 0; j < LANES; j++) {
                out[outOff + c * LANES + j] = j < heads ? q[qOff + j * d + c] * scale : 0f;
            }
        }
    }

    @Override
    public void close() {
        codec.close();
    }
}
