package io.vidkv;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * How many sequences' heads reference a shared piece of native memory ({@link Page}, a block page;
 * {@link WindowChunk}, a run of residual-window slots): the one who takes it free holds the first
 * reference, a fork adds one, closing or dropping releases one, and the last release hands it back
 * to its owner ({@link #lastReleased}). The count is an atomic int (a fork on one thread and a close
 * on another may change it at once); misuse is an {@link IllegalStateException}, never a wrong count.
 */
abstract class ReferenceCounted {

    private static final VarHandle REFS;

    static {
        try {
            REFS = MethodHandles.lookup().findVarHandle(ReferenceCounted.class, "refs", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // through REFS
    private volatile int refs;

    /** What it is, for messages ("page", "window chunk"). */
    abstract String noun();

    /** Gives it back to its owner: the last reference was just released. */
    abstract void lastReleased();

    /** Hands it out free, with one reference (its owner calls this). */
    void claim() {
        if (!REFS.compareAndSet(this, 0, 1)) {
            throw new IllegalStateException("internal error: a " + noun() + " handed out while referenced (" + refs + ")");
        }
    }

    /** One more reference; the caller holds one already, so it is live. */
    void retain() {
        int r = (int) REFS.getAndAdd(this, 1);
        if (r <= 0) {
            REFS.getAndAdd(this, -1);
            throw new IllegalStateException("internal error: retaining a " + noun() + " that is not referenced (" + r + ")");
        }
    }

    /** Drops one reference; the last one gives it back ({@link #lastReleased}). */
    void release() {
        int r = (int) REFS.getAndAdd(this, -1) - 1;
        if (r == 0) {
            lastReleased();
        } else if (r < 0) {
            REFS.getAndAdd(this, 1);
            throw new IllegalStateException("internal error: a " + noun() + " released more often than referenced");
        }
    }

    /** References now (a moment's value when other sequences fork or close concurrently). */
    int references() {
        return refs;
    }
}
