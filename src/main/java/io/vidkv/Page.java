package io.vidkv;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One page of quantized blocks and how many sequences reference it. A sequence that quantizes a
 * block into a page holds the only reference; {@link KvCache#fork()} adds one per page for the child
 * (no block bytes are copied), and closing or evicting drops one. The page goes back to its
 * {@link PageOwner} when the last reference goes, so a page is free exactly when no sequence can
 * read it.
 *
 * <p>A page that more than one sequence references is never written again: blocks are append-only,
 * and a fork seals the partly filled tail page of every head on both sides ({@link HeadStore}), so
 * each side's next block opens a page of its own. The count is an atomic int (a fork on one thread
 * and a close on another may change it at once); everything else about a page is immutable.
 */
final class Page {

    private static final VarHandle REFS;

    static {
        try {
            REFS = MethodHandles.lookup().findVarHandle(Page.class, "refs", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The page's bytes: {@code pageBytes} long, 64-byte aligned (pool pages) or 4096-aligned (mapped). */
    final MemorySegment segment;
    final PageOwner owner;
    @SuppressWarnings("unused") // through REFS
    private volatile int refs;

    Page(MemorySegment segment, PageOwner owner) {
        this.segment = segment;
        this.owner = owner;
    }

    /** Hands a free page out with one reference (its owner calls this, the page being free). */
    void claim() {
        if (!REFS.compareAndSet(this, 0, 1)) {
            throw new IllegalStateException("internal error: a page handed out while referenced (" + refs + ")");
        }
    }

    /** One more sequence references the page; the caller holds a reference already, so it is live. */
    void retain() {
        int r = (int) REFS.getAndAdd(this, 1);
        if (r <= 0) {
            REFS.getAndAdd(this, -1);
            throw new IllegalStateException("internal error: retaining a page that is not referenced (" + r + ")");
        }
    }

    /** Drops one reference; the last one returns the page to its owner. */
    void release() {
        int r = (int) REFS.getAndAdd(this, -1) - 1;
        if (r == 0) {
            owner.reclaim(this);
        } else if (r < 0) {
            REFS.getAndAdd(this, 1);
            throw new IllegalStateException("internal error: a page released more often than referenced");
        }
    }

    /** References now (a moment's value when other sequences fork or close concurrently). */
    int references() {
        return refs;
    }

    /**
     * Whether the caller's reference is the only one and the page may be written: then an evicting
     * sequence may reuse the page for its own next blocks. Stays true until the caller forks (a
     * read it cannot do while it writes), so a writer may rely on it for the rest of its write.
     */
    boolean reusableBySoleHolder() {
        return refs == 1 && owner.writable();
    }
}
