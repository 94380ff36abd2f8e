package io.vidkv.kernel;

import io.vidkv.KvCache;
import io.vidkv.nativelib.Dnnl;

/**
 * Prefill attention on a oneDNN engine the test shares across many short-lived instances (the
 * public constructor makes an engine per instance, which a fuzz run creating thousands would pay for).
 */
public final class TestPrefills {

    private TestPrefills() {
    }

    /** {@code new PrefillAttention(cache, maxQueries, tileTokens)} on {@code dnnl}, which stays open. */
    public static PrefillAttention on(Dnnl dnnl, KvCache cache, int maxQueries, int tileTokens) {
        return new PrefillAttention(cache, cache.shape(), dnnl, maxQueries, tileTokens);
    }

    /** The package-private dense reference of {@code prefill}, for tests outside the package. */
    public static void attendDense(PrefillAttention prefill, java.lang.foreign.MemorySegment keys,
                                   java.lang.foreign.MemorySegment values, int tokens, java.lang.foreign.MemorySegment queries,
                                   java.lang.foreign.MemorySegment out, int n, int firstPosition) {
        prefill.attendDense(keys, values, tokens, queries, out, n, firstPosition);
    }
}
