package io.vidkv.testing;

import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.ModelShape;

import java.lang.foreign.MemorySegment;

/** Token ranges of [tokens, kvHeads, d] float32 K/V, and appending them to every layer of a cache. */
public final class Tokens {

    private Tokens() {
    }

    /** Tokens [fromToken, fromToken + tokens) of {@code seg}. */
    public static MemorySegment slice(MemorySegment seg, int fromToken, int tokens, ModelShape shape) {
        long per = (long) shape.tokenElements() * 4;
        return seg.asSlice(fromToken * per, tokens * per);
    }

    /** Appends tokens [from, from + tokens) of k/v to every layer, in appends of at most {@code chunk}. */
    public static void append(KvCache cache, MemorySegment k, MemorySegment v, int from, int tokens, int chunk) {
        for (int t = from; t < from + tokens; t += chunk) {
            int n = Math.min(chunk, from + tokens - t);
            for (int l = 0; l < cache.shape().layers(); l++) {
                cache.append(l, slice(k, t, n, cache.shape()), slice(v, t, n, cache.shape()), n, InputType.F32);
            }
        }
    }
}
