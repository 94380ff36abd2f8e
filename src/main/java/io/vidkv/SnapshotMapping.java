package io.vidkv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * The read-only mapping of a snapshot file opened {@link SnapshotMode#MAPPED}, as the owner of the
 * pages and window chunks that slice it: blocks and residual windows are attended in place, and the
 * mapping is unmapped (its arena closed) when the last reference to the last of them is released,
 * by the restored sequence or by a fork of it, whichever closes last (or by the opener, if it handed
 * none out). Nothing is ever written into it.
 */
final class SnapshotMapping implements PageOwner, WindowChunkOwner {

    private final Path file;
    private final Arena arena;
    /** Pages and window chunks handed out and not yet reclaimed. */
    private int live;
    private boolean closed;

    /** Over {@code arena}, which maps {@code file}. */
    SnapshotMapping(Path file, Arena arena) {
        this.file = file;
        this.arena = arena;
    }

    /** Page {@code i} of the mapping, at {@code offset} in {@code mapped}, with one reference. */
    synchronized Page page(MemorySegment mapped, long offset, int pageBytes) {
        Page p = new Page(mapped.asSlice(offset, pageBytes), this);
        p.claim();
        live++;
        return p;
    }

    /**
     * A read-only window chunk of {@code tokens} slots of {@code headDim} floats: keys at
     * {@code keysAt} of {@code mapped}, values at {@code valuesAt} (little-endian floats, read in
     * place only where that is the native order), with one reference.
     */
    synchronized WindowChunk windowChunk(MemorySegment mapped, long keysAt, long valuesAt, int tokens, int headDim) {
        long bytes = (long) tokens * headDim * Float.BYTES;
        WindowChunk c = new WindowChunk(mapped.asSlice(keysAt, bytes), mapped.asSlice(valuesAt, bytes), tokens, this);
        c.claim();
        live++;
        return c;
    }

    @Override
    public synchronized void reclaim(Page page) {
        reclaimOne();
    }

    @Override
    public synchronized void reclaim(WindowChunk chunk) {
        reclaimOne();
    }

    private void reclaimOne() {
        if (--live == 0) {
            closeNow(); // no sequence can read the mapping any more
        }
    }

    /** The opener is done: unmaps now if nothing was handed out (or all came back already). */
    synchronized void closeIfUnused() {
        if (live == 0) {
            closeNow();
        }
    }

    private void closeNow() {
        if (!closed) {
            closed = true;
            arena.close();
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
