package io.vidkv;

/**
 * The pages of one {@link PagePool} at a moment ({@link PagePool#report()}): a page that several
 * sequences share (a parent and its forks) counts once, so {@code bytesInUse} is the pool memory the
 * sequences hold together, whatever their own {@link MemoryReport}s add up to.
 *
 * @param pageBytes      bytes per page
 * @param allocatedPages pages allocated from native memory (in use or free)
 * @param pagesInUse     pages referenced by at least one sequence, each counted once
 * @param sharedPages    pages referenced by more than one sequence (part of {@code pagesInUse})
 * @param references     references held on pages in all: {@code pagesInUse} plus one per extra
 *                       sequence on a shared page; 0 exactly when every page is back
 * @param bytesInUse     {@code pagesInUse * pageBytes}
 * @param sharedBytes    {@code sharedPages * pageBytes}
 * @param windowBytes    bytes of residual-window chunks allocated (in use or free; not pages)
 * @param windowBytesInUse bytes of window chunks some sequence references, each counted once
 */
public record PoolReport(int pageBytes, int allocatedPages, int pagesInUse, int sharedPages, long references,
                         long bytesInUse, long sharedBytes, long windowBytes, long windowBytesInUse) {
}
