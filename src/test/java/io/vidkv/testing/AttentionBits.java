package io.vidkv.testing;

import io.vidkv.KvCache;
import io.vidkv.kernel.DecodeAttention;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * What a sequence attends, as bits: the {@link DecodeAttention} outputs of every layer for the same
 * queries, so that two sequences (a parent and its fork, an original and its restored snapshot)
 * can be compared bit for bit.
 */
public final class AttentionBits {

    private AttentionBits() {
    }

    /** out[layer] = the raw float bits of attend(layer, q) for every layer of {@code cache}. */
    public static int[][] of(KvCache cache, MemorySegment q, MemorySegment out) {
        int[][] bits = new int[cache.shape().layers()][];
        try (DecodeAttention attn = new DecodeAttention(cache, null)) {
            for (int l = 0; l < bits.length; l++) {
                attn.attend(l, q, out);
                bits[l] = out.toArray(ValueLayout.JAVA_INT);
            }
        }
        return bits;
    }

    /** Same as {@link #of} with an attention object the caller owns (for one thread's loop). */
    public static int[] layer(DecodeAttention attn, int layer, MemorySegment q, MemorySegment out) {
        attn.attend(layer, q, out);
        return out.toArray(ValueLayout.JAVA_INT);
    }
}
