package io.vidkv;

/**
 * Pages taken from the pool before an append changes anything, so an append either gets every
 * page it needs or fails with nothing changed. Unused pages go back on {@link #releaseUnused()}.
 * Pages the append evicted from its own sequence join the reservation ({@link #addRecycled}), so an
 * evicting append never competes with other sequences for the pages it freed (only pages it held
 * alone: a page a fork still references is released instead, see {@link Page}). Reused across
 * appends (no allocation per append).
 */
final class PageReservation {

    private final PagePool pool;
    private final Page[] pages;
    private int count;
    private int next;

    PageReservation(PagePool pool, int maxPages) {
        this.pool = pool;
        this.pages = new Page[maxPages];
    }

    /** Reserves {@code n} pages or throws {@link CapacityExceededException} holding none. */
    void reserve(int n) {
        count = 0;
        next = 0;
        try {
            for (int i = 0; i < n; i++) {
                Page p = pool.acquire();
                pages[count++] = p;
            }
        } catch (RuntimeException e) {
            releaseUnused();
            throw e;
        }
    }

    /** Adds a page evicted from the appending sequence: used like a reserved one, or returned. */
    void addRecycled(Page page) {
        if (count >= pages.length) {
            throw new IllegalStateException("internal error: page reservation overflow");
        }
        pages[count++] = page;
    }

    Page take() {
        if (next >= count) {
            throw new IllegalStateException("internal error: page reservation underestimated");
        }
        Page p = pages[next];
        pages[next++] = null;
        return p;
    }

    void releaseUnused() {
        for (int i = next; i < count; i++) {
            pages[i].release();
            pages[i] = null;
        }
        count = 0;
        next = 0;
    }
}
