package io.vidkv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

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
 */
public final class PagePool implements AutoCloseable {

    private final int pageBytes;
    private final int maxPages;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment[] free;
    private int freeCount;
    private int allocated;
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
        this.free = new MemorySegment[maxPages];
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

    /** A page (contents unspecified), from the free stack or newly allocated. */
    synchronized MemorySegment acquire() {
        if (closed) {
            throw new IllegalStateException("page pool is closed");
        }
        if (freeCount > 0) {
            MemorySegment p = free[--freeCount];
            free[freeCount] = null;
            return p;
        }
        if (allocated >= maxPages) {
            throw new CapacityExceededException("page pool exhausted: all " + maxPages + " pages of " + pageBytes
                    + " bytes are in use");
        }
        allocated++;
        MemorySegment page = arena.allocate(pageBytes, 64);
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

    /** Returns a page; it must have come from this pool and not be returned twice. */
    synchronized void release(MemorySegment page) {
        if (closed) {
            return;
        }
        if (page.byteSize() != pageBytes || freeCount >= allocated) {
            throw new IllegalArgumentException("page does not belong to this pool or was released twice");
        }
        free[freeCount++] = page;
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

    /** Frees every page, in use or not. Idempotent. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }
}
