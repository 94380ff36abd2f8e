package io.vidkv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * The read-only mapping of a snapshot file opened {@link SnapshotMode#MAPPED}, as the owner of the
 * pages that slice it: blocks are attended in place, and the mapping is unmapped (its arena closed)
 * when the last reference to its last page is released, by the restored sequence or by a fork of it,
 * whichever closes last. Nothing is ever written into it.
 */
final class SnapshotMapping implements PageOwner {

    private final Path file;
    private final Arena arena;
    private int live;

    /** Over {@code arena}, which maps {@code file}; {@code pages} pages will be handed out, one reference each. */
    SnapshotMapping(Path file, Arena arena, int pages) {
        this.file = file;
        this.arena = arena;
        this.live = pages; // with none, the opener closes the arena once it has read the file
    }

    /** Page {@code i} of the mapping, at {@code offset} in {@code mapped}, with one reference. */
    Page page(MemorySegment mapped, long offset, int pageBytes) {
        Page p = new Page(mapped.asSlice(offset, pageBytes), this);
        p.claim();
        return p;
    }

    @Override
    public synchronized void reclaim(Page page) {
        if (--live == 0) {
            arena.close(); // no sequence can read the mapping any more
        }
    }

    @Override
    public boolean writable() {
        return false;
    }

    @Override
    public String toString() {
        return "mapped snapshot " + file;
    }
}
