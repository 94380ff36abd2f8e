package io.vidkv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Fixed-size off-heap pages shared by many sequences. Pages are allocated lazily from one shared
 * arena, up to {@code maxPages}; a closing sequence returns its pages to a free stack and the next
 * sequence reuses them, so a server running many sequences never fragments native memory and no
 * sequence ever copies a page to grow.
 *
 * <p>Threading: thread-safe; any number of sequences on any threads share one pool (every method
 * takes the pool's monitor briefly). {@link #close} is idempotent and frees every page; close the
 * pool after the sequences that use it. Sequences still holding pages then fail on use with
 * {@link IllegalStateException} (never a crash: the arena's segments refuse access once closed), an
 * append of theirs is rejected with nothing changed, and closing them still succeeds.
 *
 * <p>Sharing: a page is reference-counted ({@link KvCache#fork()} lets a child reference every page
 * of its parent); it returns to the free stack when its last reference is released, and
 * {@link #pagesInUse()} counts a shared page once. {@link #report()} says how many are shared.
 *
 * <p>Residual windows: the pool also keeps the float32 window chunks of its sequences
 * ({@link #windowBytes()}), reused across sequences like pages and freed with the pool. They are not
 * counted against {@code maxPages}: a sequence's window is bounded by its configuration (R + C x G
 * tokens a head), not by its length.
 */
public final class PagePool implements AutoCloseable {

    private final int pageBytes;
    private int maxPages;
    private final Arena arena = Arena.ofShared();
    /** Every page allocated so far, in allocation order (for {@link #report()}). */
    private Page[] all;
    private Page[] free;
    private int freeCount;
    private int allocated;
    /**
     * Sequences created with a pool of their own ({@link KvCache#create(ModelShape, CacheConfig)})
     * and their forks: the pool closes with the last of them. 0 for a pool the caller made.
     */
    private int holders;
    /** Takes back pages whose last reference was released (kept private: the pool's API stays small). */
    private final PageOwner owner = new PageOwner() {
        @Override
        public void reclaim(Page page) {
            release(page);
        }

        @Override
        public boolean writable() {
            return true;
        }
    };
    /** The window chunks of this pool's sequences, one store per head dimension (usually one). */
    private WindowChunks[] windowChunks = new WindowChunks[0];
    /** Volatile so that {@link #isClosed} needs no monitor (a sequence checks it on every append). */
    private volatile boolean closed;

    /**
     * A pool of at most {@code maxPages} pages of {@code pageBytes} each, none allocated yet.
     *
     * @param pageBytes bytes per page, at least 4096 (all pages are this size, 64-byte aligned); must
     *                  equal the {@link CacheConfig#pageBytes()} of every sequence that shares the pool
     * @param maxPages  most pages ever allocated, at least 1; an append that would need more throws
     *                  {@link CapacityExceededException} with nothing changed
     * @throws IllegalArgumentException if either is out of range
     */
    public PagePool(int pageBytes, int maxPages) {
        if (pageBytes < 4096 || maxPages <= 0) {
            throw new IllegalArgumentException("page pool needs pageBytes >= 4096 and maxPages > 0, got "
                    + pageBytes + " and " + maxPages);
        }
        this.pageBytes = pageBytes;
        this.maxPages = maxPages;
        int initial = Math.min(maxPages, 1024); // grows with allocation: maxPages may be a large budget
        this.free = new Page[initial];
        this.all = new Page[initial];
    }

    /**
     * A pool with at most {@code maxBytes} of pages (at least one page).
     *
     * @param pageBytes bytes per page, at least 4096
     * @param maxBytes  the budget of native memory for pages
     * @return the pool
     * @throws IllegalArgumentException if {@code pageBytes} is out of range
     */
    public static PagePool ofBytes(int pageBytes, long maxBytes) {
        return new PagePool(pageBytes, (int) Math.min(Integer.MAX_VALUE - 8, Math.max(1, maxBytes / pageBytes)));
    }

    /**
     * Bytes per page.
     *
     * @return the page size
     */
    public int pageBytes() {
        return pageBytes;
    }

    /**
     * A page (contents unspecified) with one reference, the caller's, from the free stack or newly
     * allocated.
     */
    synchronized Page acquire() {
        if (closed) {
            throw new IllegalStateException("page pool is closed");
        }
        if (freeCount > 0) {
            Page p = free[--freeCount];
            free[freeCount] = null;
            p.claim();
            return p;
        }
        if (allocated >= maxPages) {
            throw new CapacityExceededException("page pool exhausted: all " + maxPages + " pages of " + pageBytes
                    + " bytes are in use");
        }
        if (allocated == all.length) { // growth only: a warm pool hands out free pages
            int n = (int) Math.min(maxPages, 2L * all.length);
            all = Arrays.copyOf(all, n);
            free = Arrays.copyOf(free, n);
        }
        Page page = new Page(arena.allocate(pageBytes, 64), owner);
        all[allocated++] = page;
        page.claim();
        io.vidkv.jfr.PageEvent ev = new io.vidkv.jfr.PageEvent();
        if (ev.shouldCommit()) {
            ev.action = "allocated";
            ev.pages = 1;
            ev.pageBytes = pageBytes;
            ev.inUse = allocated - freeCount;
            ev.commit();
        }
        return page;
    }

    /**
     * Whether {@code pages} more pages can be handed out now (free ones plus those not yet allocated).
     *
     * @param pages a page count
     * @return false once closed or when fewer remain
     */
    public synchronized boolean canAcquire(int pages) {
        return !closed && freeCount + (maxPages - allocated) >= pages;
    }

    /** Records that a closing sequence returned {@code pages} pages (one JFR event per sequence). */
    void recordRelease(int pages) {
        io.vidkv.jfr.PageEvent ev = new io.vidkv.jfr.PageEvent();
        if (ev.shouldCommit()) {
            ev.action = "released";
            ev.pages = pages;
            ev.pageBytes = pageBytes;
            ev.inUse = pagesInUse();
            ev.commit();
        }
    }

    /** Puts a page whose last reference went back on the free stack (through {@link Page#release}). */
    private synchronized void release(Page page) {
        if (closed) {
            return;
        }
        if (page.owner != owner || freeCount >= allocated) {
            throw new IllegalArgumentException("page does not belong to this pool or was released twice");
        }
        free[freeCount++] = page;
    }

    /**
     * Pages in use, how many of them more than one sequence references, and the references in all:
     * a shared page counts once in {@code pagesInUse} and {@code bytesInUse}.
     *
     * @return the report, a moment's values
     */
    public synchronized PoolReport report() {
        int shared = 0;
        long references = 0;
        for (int i = 0; i < allocated; i++) {
            int r = all[i].references();
            references += r;
            if (r > 1) {
                shared++;
            }
        }
        int inUse = allocated - freeCount;
        long windowInUse = 0;
        for (WindowChunks w : windowChunks) {
            windowInUse += (long) w.inUse() * w.chunkBytes();
        }
        return new PoolReport(pageBytes, allocated, inUse, shared, references, (long) inUse * pageBytes,
                (long) shared * pageBytes, windowBytes(), windowInUse);
    }

    /** The window chunks for heads of {@code headDim} floats (created on first use). */
    synchronized WindowChunks windowChunks(int headDim) {
        if (closed) {
            throw new IllegalStateException("page pool is closed");
        }
        for (WindowChunks w : windowChunks) {
            if (w.headDim() == headDim) {
                return w;
            }
        }
        WindowChunks w = new WindowChunks(headDim);
        windowChunks = Arrays.copyOf(windowChunks, windowChunks.length + 1);
        windowChunks[windowChunks.length - 1] = w;
        return w;
    }

    /**
     * Native bytes of residual-window chunks the pool holds: every chunk allocated, in use or free
     * (outside {@link #nativeBytes()}, which counts pages).
     *
     * @return the window chunks' bytes; 0 before any sequence appended
     */
    public synchronized long windowBytes() {
        long n = 0;
        for (WindowChunks w : windowChunks) {
            n += (long) w.allocated() * w.chunkBytes();
        }
        return n;
    }

    /** A new sequence with this pool as its own (or a fork of one) holds the pool open too. */
    synchronized void addHolder(int morePages) {
        holders++;
        maxPages = (int) Math.min(Integer.MAX_VALUE - 8, (long) maxPages + morePages);
    }

    /** A holder closed; the last one closes the pool. Returns whether it did. */
    synchronized boolean releaseHolder() {
        if (--holders <= 0) {
            close();
            return true;
        }
        return false;
    }

    /**
     * Pages allocated from native memory so far (in use or free).
     *
     * @return the allocated page count
     */
    public synchronized int allocatedPages() {
        return allocated;
    }

    /**
     * Pages currently held by sequences.
     *
     * @return the pages in use; 0 once every sequence on the pool is closed
     */
    public synchronized int pagesInUse() {
        return allocated - freeCount;
    }

    /** Whether {@link #close} was called (a precondition the cache checks before an append writes). */
    boolean isClosed() {
        return closed;
    }

    /**
     * Native bytes the pool holds: every allocated page, in use or free.
     *
     * @return {@code allocatedPages() * pageBytes()}
     */
    public synchronized long nativeBytes() {
        return (long) allocated * pageBytes;
    }

    /** Frees every page and window chunk, in use or not. Idempotent. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            try {
                for (WindowChunks w : windowChunks) {
                    w.close();
                }
            } finally {
                arena.close();
            }
        }
    }
}
