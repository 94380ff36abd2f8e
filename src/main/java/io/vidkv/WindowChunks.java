package io.vidkv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The residual-window chunks of one family of sequences: a sequence made by {@code create} or
 * {@code openSnapshot} and every fork descending from it, which share window chunks
 * ({@link ResidualWindow}). Chunks are allocated lazily from one shared arena, {@link #TOKENS} slots
 * each; a chunk whose last reference goes returns to a free list and the family's next chunk reuses
 * it, so a steady-state append allocates nothing (only growth creates a chunk, with its segments).
 * The arena is freed when the last sequence of the family closes ({@link #releaseHolder}), after
 * each released its chunks.
 *
 * <p>Threading: thread-safe (the heads of one append take chunks on several runner threads, and the
 * sequences of a family append and close on their own threads); every method takes the monitor
 * briefly and allocates nothing but a new chunk.
 */
final class WindowChunks implements WindowChunkOwner {

    /**
     * Slots a chunk holds. Small, because a fork's first token opens a chunk of its own and a chunk is
     * the unit a window grows by; 16 slots of d = 128 are 16 KiB of keys and values.
     */
    static final int TOKENS = 16;

    private final Arena arena = Arena.ofShared();
    private final long halfBytes;
    private WindowChunk free;
    private int allocated;
    private int freeCount;
    private int holders = 1;
    private boolean closed;

    /** For heads of {@code headDim} floats a token; its first holder is the caller's sequence. */
    WindowChunks(int headDim) {
        this.halfBytes = (long) TOKENS * headDim * Float.BYTES;
    }

    /** A chunk (contents unspecified) with one reference, the caller's: a free one, or a new one. */
    synchronized WindowChunk take() {
        if (closed) {
            throw new IllegalStateException("internal error: window chunks taken after the family closed");
        }
        WindowChunk c = free;
        if (c != null) {
            free = c.next;
            c.next = null;
            freeCount--;
        } else {
            MemorySegment both = arena.allocate(2 * halfBytes, 64);
            c = new WindowChunk(both.asSlice(0, halfBytes), both.asSlice(halfBytes, halfBytes), TOKENS, this);
            allocated++;
        }
        c.claim();
        return c;
    }

    @Override
    public synchronized void reclaim(WindowChunk chunk) {
        if (closed) {
            return;
        }
        if (chunk.owner != this || freeCount >= allocated) {
            throw new IllegalStateException("internal error: a window chunk of another family, or released twice");
        }
        chunk.next = free;
        free = chunk;
        freeCount++;
    }

    /** A fork joins the family. */
    synchronized WindowChunks addHolder() {
        if (closed) {
            throw new IllegalStateException("internal error: a fork joined a closed family");
        }
        holders++;
        return this;
    }

    /** A sequence of the family closed (after releasing its chunks); the last one frees the arena. */
    synchronized void releaseHolder() {
        if (--holders == 0) {
            closed = true;
            free = null;
            arena.close();
        }
    }

    /** Chunks allocated so far, in use or free (tests). */
    synchronized int allocated() {
        return allocated;
    }

    /** Chunks some head references now (tests: 0 once every sequence of the family closed its windows). */
    synchronized int inUse() {
        return allocated - freeCount;
    }

    /** Bytes of one chunk, keys and values. */
    long chunkBytes() {
        return 2 * halfBytes;
    }
}
