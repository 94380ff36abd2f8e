package io.vidkv;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Who uses one sequence ({@link KvCache}) right now, as one atomic word: idle, the number of readers
 * (attention calls) in progress, one writer (a negative word that says what it does and on which
 * layer), or closed for good. One word so that a reader and a writer can never both win and a call
 * that loses reads exactly what it lost to; an atomic rather than a lock so that misuse fails at once
 * instead of queueing (one writer per sequence is the contract: waiting would hide the bug). Nothing
 * here allocates unless a call is refused.
 */
final class SequenceUse {

    /** What a writer does, encoded in its word. */
    static final int APPEND = 0;
    static final int PROTECT = 1;
    static final int CLOSE = 2;

    private static final int IDLE = 0;
    private static final int CLOSED = Integer.MIN_VALUE;

    private final AtomicInteger word = new AtomicInteger();

    /** The word of a writer doing {@code op} on {@code layer} (-1: none). */
    private static int writing(int op, int layer) {
        return -1 - (op + 4 * (layer + 1));
    }

    /**
     * Takes the sequence for one write or throws {@link IllegalStateException} with nothing changed;
     * {@code layer} is named in the messages of calls it refuses (-1: none; an out-of-range layer,
     * rejected later under the write, is recorded as none so that it cannot look like a reader count),
     * {@code attempted} names this call in the message if it is refused.
     */
    void beginWrite(int op, int layer, int layers, String attempted) {
        int named = layer >= 0 && layer < layers ? layer : -1;
        int witness = word.compareAndExchange(IDLE, writing(op, named));
        if (witness != IDLE) {
            throw busy(witness, attempted);
        }
    }

    void endWrite() {
        word.set(IDLE); // publishes the write to the next reader or writer, whose CAS reads this
    }

    /** Takes the sequence for one read (reads may overlap) or throws with nothing held. */
    void beginRead(String attempted) {
        while (true) {
            int u = word.get();
            if (u < 0) {
                throw busy(u, attempted);
            }
            if (word.compareAndSet(u, u + 1)) {
                return;
            }
        }
    }

    /** Ends a read; an unmatched call throws and must not turn the count into a writer's word. */
    void endRead() {
        while (true) {
            int u = word.get();
            if (u <= 0) {
                throw new IllegalStateException("KvCache.endRead without a matching beginRead");
            }
            if (word.compareAndSet(u, u - 1)) {
                return;
            }
        }
    }

    /**
     * Takes the sequence for closing: true if the caller must now release everything and then call
     * {@link #markClosed}, false if it was closed already; throws if another thread uses it.
     */
    boolean beginClose() {
        int witness = word.compareAndExchange(IDLE, writing(CLOSE, -1));
        if (witness == CLOSED) {
            return false;
        }
        if (witness != IDLE) {
            throw busy(witness, "close");
        }
        return true;
    }

    void markClosed() {
        word.set(CLOSED);
    }

    boolean isClosed() {
        return word.get() == CLOSED;
    }

    /** The exception for a call ({@code attempted}) that found the word {@code u} (not idle). */
    private static IllegalStateException busy(int u, String attempted) {
        if (u == CLOSED) {
            return new IllegalStateException("KvCache is closed");
        }
        String current;
        if (u > 0) {
            current = "read by attention on another thread";
        } else {
            int x = -1 - u;
            int layer = (x >> 2) - 1;
            current = switch (x & 3) {
                case APPEND -> "appended to";
                case PROTECT -> "protected";
                default -> "closed";
            } + " by another thread" + (layer >= 0 ? " (layer " + layer + ")" : "");
        }
        return new IllegalStateException("KvCache is being " + current + ": one thread at a time writes a sequence (append, "
                + "protect, close) and attention reads it only between writes; " + attempted + " after that call returns "
                + "(nothing was changed)");
    }
}
