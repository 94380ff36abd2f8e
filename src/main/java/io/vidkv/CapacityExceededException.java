package io.vidkv;

/** An append would exceed the sequence's token capacity or its page pool; nothing was changed. */
public final class CapacityExceededException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public CapacityExceededException(String message) {
        super(message);
    }
}
