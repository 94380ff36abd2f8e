package io.vidkv;

/**
 * Where a {@link Page} goes back to when its last reference is released: the free stack of a
 * {@link PagePool}, or the read-only file mapping of a snapshot ({@link SnapshotMapping}), which
 * unmaps once none of its pages is referenced any more.
 */
interface PageOwner {

    /** Takes back {@code page}, whose reference count just reached 0. */
    void reclaim(Page page);

    /**
     * Whether blocks may be written into this owner's pages: pool pages yes, pages of a read-only
     * mapping never (a sequence restored from a mapping appends into pool pages).
     */
    boolean writable();
}
