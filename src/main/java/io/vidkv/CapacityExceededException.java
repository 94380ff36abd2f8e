package io.vidkv;

/**
 * An append would exceed the sequence's token capacity ({@link CapacityPolicy#maxTokens()}) or its
 * page pool has too few free pages. Thrown by {@link KvCache#append} before anything is written:
 * the cache is unchanged and stays usable (a smaller append, or one after other sequences of a
 * shared {@link PagePool} closed, may succeed).
 */
public final class CapacityExceededException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception with a message that says which layer, how many tokens and which limit.
     *
     * @param message the detail message
     */
    public CapacityExceededException(String message) {
        super(message);
    }
}
