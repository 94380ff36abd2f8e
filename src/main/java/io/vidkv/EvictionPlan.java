package io.vidkv;

/**
 * Which of a layer's oldest pages an append drops under {@link CapacityPolicy.OnFull#EVICT_OLDEST},
 * and the reservation of the pages the append needs (under {@code REJECT} the plan drops nothing
 * and only reserves).
 *
 * <p>The plan is made on counts: first as many oldest pages as the token budget requires, then one
 * more at a time while the pool has no free page for the rest. Nothing is dropped until
 * {@link #commit}, which the caller runs only after {@link #reserve} succeeded, so a rejected append
 * changes nothing. The dropped pages join the reservation, so an evicting append reuses the pages
 * it freed and never competes with other sequences for them; surplus ones go back to the pool. A
 * dropped page that another sequence (a fork) still references is not freed: this sequence only
 * releases its reference, and the plan reserves a fresh page in its place.
 * Reused for every append of the sequence (no allocation per append).
 */
final class EvictionPlan {

    private final CapacityPolicy capacity;
    private final PageReservation reservation;
    private final ProtectedTokens protectedTokens;
    private final PagePool pool;
    private final int kvHeads;
    private final int pageBytes;
    private LayerStore layer;
    /** Oldest pages each head of {@link #layer} drops at {@link #commit}. */
    private int pages;

    EvictionPlan(CapacityPolicy capacity, PageReservation reservation, ProtectedTokens protectedTokens, PagePool pool,
                 int kvHeads, int pageBytes) {
        this.capacity = capacity;
        this.reservation = reservation;
        this.protectedTokens = protectedTokens;
        this.pool = pool;
        this.kvHeads = kvHeads;
        this.pageBytes = pageBytes;
    }

    /**
     * Plans the eviction for appending {@code tokenCount} tokens to {@code ls} and reserves the
     * pages the append needs beyond the ones it will drop. The caller has checked that the window
     * plus the append fits {@code maxTokens}, so dropping every block is always enough tokens.
     *
     * @throws CapacityExceededException the pool has too few pages even after evicting what the
     *                                   policy allows; nothing changed and nothing is reserved
     */
    void reserve(LayerStore ls, int tokenCount) {
        HeadStore h0 = ls.heads[0]; // every head holds the same pages' worth of blocks
        int g = ls.config.groupSize();
        int retained = ls.tokens - ls.evictedTokens;
        int evict = 0;
        while ((long) retained - (long) h0.blocksInOldestPages(evict) * g + tokenCount > capacity.maxTokens()) {
            if (evict >= h0.pageCount()) { // unreachable: window + tokenCount <= max was checked
                throw new IllegalStateException("internal error: layer " + ls.index + " cannot evict enough pages");
            }
            evict++;
        }
        while (true) {
            // dropping every page also drops the partly filled one, so the first block opens a page
            boolean freshPage = evict > 0 && evict == h0.pageCount();
            int needed = ls.pagesPerHead(tokenCount, freshPage, protectedTokens, pageBytes) * kvHeads;
            // only pages this sequence holds alone come back for reuse; one a fork still references
            // is just released (its count can only fall before commit: no fork while we write)
            int reusable = 0;
            for (HeadStore hs : ls.heads) {
                reusable += hs.reusableInOldestPages(evict);
            }
            try {
                reservation.reserve(Math.max(0, needed - reusable));
                break;
            } catch (CapacityExceededException e) {
                if (!capacity.evicts() || evict >= h0.pageCount()) {
                    throw new CapacityExceededException("layer " + ls.index + ": " + e.getMessage()
                            + (capacity.evicts() ? " (even after evicting all " + evict + " pages of each head)" : "")
                            + "; nothing was appended");
                }
                evict++;
            }
        }
        this.layer = ls;
        this.pages = evict;
    }

    /** Forgets the plan without dropping anything (another layer of the same append was rejected). */
    void cancel() {
        layer = null;
        pages = 0;
    }

    /** Drops the planned pages of every head into the reservation; the append's first write. */
    void commit() {
        LayerStore ls = layer;
        layer = null;
        if (pages == 0) {
            return;
        }
        int g = ls.config.groupSize();
        int evictedBlocks = ls.heads[0].blocksInOldestPages(pages);
        for (int b = 0; b < evictedBlocks; b++) {
            ls.countBlocks(protectedTokens.count(ls.evictedTokens + b * g, g), -kvHeads);
        }
        for (HeadStore hs : ls.heads) {
            hs.evictOldestPages(pages, reservation);
        }
        ls.evictedTokens += evictedBlocks * g;
        io.vidkv.jfr.PageEvent.recordEviction(pages * kvHeads, pageBytes, pool.pagesInUse());
    }
}
