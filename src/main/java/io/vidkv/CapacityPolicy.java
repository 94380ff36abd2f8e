package io.vidkv;

/**
 * How many tokens a sequence may hold. The limit sizes the sequence's block directory once, at
 * construction, so appends never grow a Java array; appending past it throws
 * {@link CapacityExceededException} and leaves the cache unchanged. (Evicting old pages instead is
 * not implemented yet.)
 */
public record CapacityPolicy(int maxTokens) {

    public static final CapacityPolicy DEFAULT = new CapacityPolicy(131_072);

    public CapacityPolicy {
        if (maxTokens <= 0) {
            throw new IllegalArgumentException("maxTokens must be positive, got " + maxTokens);
        }
    }
}
