package io.vidkv;

/**
 * How many tokens a sequence may hold per layer, and what happens when an append would go past
 * that or the shared pool has no free page.
 *
 * <p>{@code maxTokens} sizes the sequence's block directory once, at construction, so appends never
 * grow a Java array. With {@link OnFull#REJECT} an append past it (or one the pool cannot serve)
 * throws {@link CapacityExceededException} and leaves the cache unchanged. With
 * {@link OnFull#EVICT_OLDEST} the layer first drops its oldest pages (whole pages of quantized
 * blocks, in every KV head, as a sliding window over the sequence) until the append fits; the
 * residual window and the tokens of the append itself are never evicted, so an append of more
 * than {@code maxTokens - windowCount} tokens is still rejected. Evicted tokens are no longer
 * attended: the attention kernels start at {@link KvCache#firstRetainedToken(int)}.
 */
public record CapacityPolicy(int maxTokens, OnFull onFull) {

    /** What an append does when the sequence is full. */
    public enum OnFull {
        /** Throw {@link CapacityExceededException}; nothing changes. */
        REJECT,
        /** Drop the layer's oldest pages (sliding window), then append. */
        EVICT_OLDEST
    }

    public static final CapacityPolicy DEFAULT = new CapacityPolicy(131_072);

    public CapacityPolicy {
        if (maxTokens <= 0) {
            throw new IllegalArgumentException("maxTokens must be positive, got " + maxTokens);
        }
        if (onFull == null) {
            throw new IllegalArgumentException("onFull must not be null");
        }
    }

    /** Rejects appends past {@code maxTokens}. */
    public CapacityPolicy(int maxTokens) {
        this(maxTokens, OnFull.REJECT);
    }

    /** Keeps the newest tokens: evicts the oldest pages to stay within {@code maxTokens}. */
    public static CapacityPolicy evictOldest(int maxTokens) {
        return new CapacityPolicy(maxTokens, OnFull.EVICT_OLDEST);
    }

    public boolean evicts() {
        return onFull == OnFull.EVICT_OLDEST;
    }
}
