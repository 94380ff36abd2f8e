package io.vidkv.eval;

import java.lang.foreign.MemorySegment;

/**
 * One layer of K/V (and the queries to evaluate attention with) as float32 off-heap segments:
 * keys and values [tokens, kvHeads, headDim], queries [queryTokens, queryHeads, headDim] whose token
 * i sits at position {@code queryPositions[i]} (it attends cached tokens at positions <= that).
 * {@code salient} marks the tokens the data source knows to matter (synthetic data) or null.
 * {@code layer} is the layer's number in the data (file {@code L3_key.npy}: 3), which reports show;
 * it need not be the index the source was asked for.
 */
public record LayerData(int layer, int tokens, MemorySegment keys, MemorySegment values, int queryTokens,
                        MemorySegment queries, int[] queryPositions, boolean[] salient) {
}
