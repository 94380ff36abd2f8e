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
 *
 * <p>{@code maxTokens} also bounds {@link KvCache#protect}: only positions below it can be protected.
 * Set it with {@link CacheConfig#withCapacity(CapacityPolicy)} or {@link CacheConfig#withCapacity(int)};
 * the default is {@link #DEFAULT}.
 *
 * @param maxTokens most tokens each layer of the sequence holds at once (retained tokens: evicted
 *                  ones do not count), positive
 * @param onFull    what an append that would go past {@code maxTokens} does
 */
public record CapacityPolicy(int maxTokens, OnFull onFull) {

    /** What an append does when the sequence is full. */
    public enum OnFull {
        /** Throw {@link CapacityExceededException}; nothing changes. */
        REJECT,
        /** Drop the layer's oldest pages (sliding window), then append. */
        EVICT_OLDEST
    }

    /** 131,072 tokens per layer, {@link OnFull#REJECT}: what {@link CacheConfig#of} and {@link CacheConfig#uniform} use. */
    public static final CapacityPolicy DEFAULT = new CapacityPolicy(131_072);

    /**
     * Checks the policy.
     *
     * @param maxTokens most tokens each layer holds at once, positive
     * @param onFull    what a full sequence does with an append
     * @throws IllegalArgumentException if {@code maxTokens <= 0} or {@code onFull} is null
     */
    public CapacityPolicy {
        if (maxTokens <= 0) {
            throw new IllegalArgumentException("maxTokens must be positive, got " + maxTokens);
        }
        if (onFull == null) {
            throw new IllegalArgumentException("onFull must not be null");
        }
    }

    /**
     * A policy that rejects appends past {@code maxTokens} ({@link OnFull#REJECT}).
     *
     * @param maxTokens most tokens each layer holds, positive
     * @throws IllegalArgumentException if {@code maxTokens <= 0}
     */
    public CapacityPolicy(int maxTokens) {
        this(maxTokens, OnFull.REJECT);
    }

    /**
     * A policy that keeps the newest tokens: evicts the oldest pages to stay within
     * {@code maxTokens} ({@link OnFull#EVICT_OLDEST}).
     *
     * @param maxTokens most tokens each layer holds, positive; an append of more than
     *                  {@code maxTokens} minus the tokens then in the residual window (fewer than
     *                  R + C x G) is still rejected
     * @return the evicting policy
     * @throws IllegalArgumentException if {@code maxTokens <= 0}
     */
    public static CapacityPolicy evictOldest(int maxTokens) {
        return new CapacityPolicy(maxTokens, OnFull.EVICT_OLDEST);
    }

    /**
     * Whether a full sequence evicts instead of rejecting.
     *
     * @return {@code true} for {@link OnFull#EVICT_OLDEST}
     */
    public boolean evicts() {
        return onFull == OnFull.EVICT_OLDEST;
    }
}
