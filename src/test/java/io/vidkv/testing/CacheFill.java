package io.vidkv.testing;

import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.ModelShape;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** Fills a cache with random tokens for the reference tests. */
public final class CacheFill {

    /** Magnitudes of the appended tokens. */
    public enum Scale {
        /** {@link KvData}'s keys and values. */
        NORMAL,
        /** Values pushed to +-6e4 (near the FP16 limit 65504), a few exactly there. */
        NEAR_FP16_MAX,
        /** Keys and values times 1e-30: FP16 scales underflow, float32 windows keep them. */
        TINY
    }

    private CacheFill() {
    }

    /**
     * Protects a random quarter of the tokens if layer 0 stores protection, then appends the same
     * {@code tokens} tokens to every layer; returns {keys, values}, [tokens, kvHeads, d] float32.
     */
    public static MemorySegment[] fill(KvCache cache, Arena arena, SplittableRandom rnd, int tokens, Scale scale) {
        ModelShape shape = cache.shape();
        if (cache.layerConfig(0).values().protection()) {
            for (int t = 0; t < tokens; t++) {
                if (rnd.nextInt(4) == 0) {
                    cache.protect(t);
                }
            }
        }
        MemorySegment k = KvData.keys(arena, rnd, tokens, shape.kvHeads(), shape.headDim());
        MemorySegment v = KvData.values(arena, rnd, tokens, shape.kvHeads(), shape.headDim());
        long n = (long) tokens * shape.tokenElements();
        for (long i = 0; i < n; i++) {
            float x = v.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            switch (scale) {
                case NORMAL -> { }
                case NEAR_FP16_MAX -> v.setAtIndex(ValueLayout.JAVA_FLOAT, i,
                        rnd.nextInt(50) == 0 ? Math.copySign(65504f, x) : (float) Math.max(-6e4, Math.min(6e4, x * 3e4)));
                case TINY -> {
                    v.setAtIndex(ValueLayout.JAVA_FLOAT, i, x * 1e-30f);
                    k.setAtIndex(ValueLayout.JAVA_FLOAT, i, k.getAtIndex(ValueLayout.JAVA_FLOAT, i) * 1e-30f);
                }
            }
        }
        for (int layer = 0; layer < shape.layers(); layer++) {
            cache.append(layer, k, v, tokens, InputType.F32);
        }
        return new MemorySegment[]{k, v};
    }
}
