package io.vidkv;

import java.lang.foreign.MemorySegment;

/**
 * One page of quantized blocks and how many sequences reference it. A sequence that quantizes a
 * block into a page holds the only reference; {@link KvCache#fork()} adds one per page for the child
 * (no block bytes are copied), and closing or evicting drops one. The page goes back to its
 * {@link PageOwner} when the last reference goes, so a page is free exactly when no sequence can
 * read it.
 *
 * <p>A page that more than one sequence references is never written again: blocks are append-only,
 * and a fork seals the partly filled tail page of every head on both sides ({@link HeadStore}), so
 * each side's next block opens a page of its own. The count is {@link ReferenceCounted}'s;
 * everything else about a page is immutable.
 */
final class Page extends ReferenceCounted {

    /** The page's bytes: {@code pageBytes} long, 64-byte aligned (pool pages) or 4096-aligned (mapped). */
    final MemorySegment segment;
    final PageOwner owner;

    Page(MemorySegment segment, PageOwner owner) {
        this.segment = segment;
        this.owner = owner;
    }

    @Override
    String noun() {
        return "page";
    }

    @Override
    void lastReleased() {
        owner.reclaim(this);
    }

    /**
     * Whether the caller's reference is the only one and the page may be written: then an evicting
     * sequence may reuse the page for its own next blocks. Stays true until the caller forks (a
     * read it cannot do while it writes), so a writer may rely on it for the rest of its write.
     */
    boolean reusableBySoleHolder() {
        return references() == 1 && owner.writable();
    }
}
