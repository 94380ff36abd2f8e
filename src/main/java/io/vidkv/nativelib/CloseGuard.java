package io.vidkv.nativelib;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Lets many threads use a native resource while one thread may close it: {@link #enter()} before
 * each native call, {@link #exit()} after; {@link #closeAndAwait()} flips the closed flag and
 * waits until no call is in flight, so native memory is never freed under a running call. Uses
 * no locks and allocates nothing, so it can sit on decode paths.
 */
final class CloseGuard {
    private final String what;
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile boolean closed;

    CloseGuard(String what) {
        this.what = what;
    }

    /** Throws {@link IllegalStateException} if closed; otherwise counts this caller in. */
    void enter() {
        inFlight.incrementAndGet();
        if (closed) {
            inFlight.decrementAndGet();
            throw new IllegalStateException(what + " is closed");
        }
    }

    void exit() {
        inFlight.decrementAndGet();
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException(what + " is closed");
        }
    }

    boolean isClosed() {
        return closed;
    }

    /** Returns false if it was already closed; otherwise waits for in-flight calls and returns true. */
    boolean closeAndAwait() {
        synchronized (this) {
            if (closed) {
                return false;
            }
            closed = true;
        }
        while (inFlight.get() != 0) {
            Thread.onSpinWait();
        }
        return true;
    }
}
