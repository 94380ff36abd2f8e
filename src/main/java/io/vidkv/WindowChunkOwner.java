package io.vidkv;

/**
 * Where a {@link WindowChunk} goes back to when its last reference is released: the free list of
 * its pool ({@link WindowChunks}), or the read-only mapping of a snapshot
 * ({@link SnapshotMapping}), which unmaps once nothing references it any more.
 */
interface WindowChunkOwner {

    /** Takes back {@code chunk}, whose reference count just reached 0. */
    void reclaim(WindowChunk chunk);
}
