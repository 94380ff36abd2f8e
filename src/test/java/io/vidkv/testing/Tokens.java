package io.vidkv.testing;

import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.ModelShape;

import io.vidkv.kernel.DecodeAttention;

import java.lang.foreign.MemorySegment;
import java.util.function.IntConsumer;

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

    /**
     * Decode step t (t in [0, count)): append token {@code from + t} of k/v to every layer and attend
     * every layer with {@code q} into {@code out}. The token slices are made here, up front, so that
     * the steps themselves allocate nothing (for the steady-state allocation tests).
     */
    public static IntConsumer decodeSteps(KvCache cache, DecodeAttention attn, MemorySegment k, MemorySegment v, int from,
                                          int count, MemorySegment q, MemorySegment out) {
        ModelShape shape = cache.shape();
        MemorySegment[] kt = new MemorySegment[count];
        MemorySegment[] vt = new MemorySegment[count];
        for (int t = 0; t < count; t++) {
            kt[t] = slice(k, from + t, 1, shape);
            vt[t] = slice(v, from + t, 1, shape);
        }
        return t -> {
            for (int l = 0; l < shape.layers(); l++) {
                cache.append(l, kt[t], vt[t], 1, InputType.F32);
                attn.attend(l, q, out);
            }
        };
    }
}
