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
    private Page[] pages;
    private int count;
    private int next;

    PageReservation(PagePool pool, int maxPages) {
        this.pool = pool;
        this.pages = new Page[maxPages];
    }

    /** Starts an append's reservation (empty: the last append released what it did not use). */
    void begin() {
        if (count != 0 || next != 0) {
            throw new IllegalStateException("internal error: a page reservation was not released");
        }
    }

    /**
     * Reserves {@code n} more pages (an append of several layers reserves once per layer), or throws
     * {@link CapacityExceededException} holding none of these n: the pages reserved before stay.
     */
    void reserve(int n) {
        int before = count;
        ensureRoom(n);
        try {
            for (int i = 0; i < n; i++) {
                Page p = pool.acquire();
                pages[count++] = p;
            }
        } catch (RuntimeException e) {
            for (int i = before; i < count; i++) {
                pages[i].release();
                pages[i] = null;
            }
            count = before;
            throw e;
        }
    }

    /** Room for n more pages: the array, sized for one layer's largest append, grows for appends of several. */
    private void ensureRoom(int n) {
        if ((long) count + n > pages.length) {
            pages = java.util.Arrays.copyOf(pages, (int) Math.min(Integer.MAX_VALUE - 8, Math.max(2L * pages.length, (long) count + n)));
        }
    }

    /** Adds a page evicted from the appending sequence: used like a reserved one, or returned. */
    void addRecycled(Page page) {
        ensureRoom(1);
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
