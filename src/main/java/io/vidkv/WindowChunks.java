package io.vidkv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The residual-window chunks of every sequence on one {@link PagePool} whose heads have one head
 * dimension ({@link PagePool#windowChunks}); a fork shares its parent's chunks
 * ({@link ResidualWindow}). Chunks are allocated lazily from one shared arena, {@link #TOKENS} slots
 * each; a chunk whose last reference goes returns to a free list and the next chunk any sequence of
 * the pool takes reuses it, like a page. So a steady-state append allocates nothing (only growth
 * creates a chunk, with its segments), and a server that closes and creates sequences holds the
 * high-water mark of the windows open at once instead of allocating and freeing them per sequence.
 * The arena is freed when the pool closes ({@link #close}).
 *
 * <p>Threading: thread-safe (the heads of one append take chunks on several runner threads, and the
 * sequences of a pool append and close on their own threads); every method takes the monitor
 * briefly and allocates nothing but a new chunk.
 */
final class WindowChunks implements WindowChunkOwner {

    /**
     * Slots a chunk holds. Small, because a fork's first token opens a chunk of its own and a chunk is
     * the unit a window grows by; 16 slots of d = 128 are 16 KiB of keys and values.
     */
    static final int TOKENS = 16;

    private final Arena arena = Arena.ofShared();
    private final int headDim;
    private final long halfBytes;
    private WindowChunk free;
    private int allocated;
    private int freeCount;
    private boolean closed;

    /** For heads of {@code headDim} floats a token. */
    WindowChunks(int headDim) {
        this.headDim = headDim;
        this.halfBytes = (long) TOKENS * headDim * Float.BYTES;
    }

    int headDim() {
        return headDim;
    }

    /** A chunk (contents unspecified) with one reference, the caller's: a free one, or a new one. */
    synchronized WindowChunk take() {
        if (closed) {
            throw new IllegalStateException("page pool is closed");
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
            throw new IllegalStateException("internal error: a window chunk of another pool, or released twice");
        }
        chunk.next = free;
        free = chunk;
        freeCount++;
    }

    /**
     * Frees every chunk, in use or not (the pool closes). Idempotent. Heads still holding chunks then
     * fail on use with {@link IllegalStateException} (the arena's segments refuse access), as with pages.
     */
    synchronized void close() {
        if (!closed) {
            closed = true;
            free = null;
            arena.close();
        }
    }

    /** Chunks allocated so far, in use or free. */
    synchronized int allocated() {
        return allocated;
    }

    /** Chunks some head references now (0 once every sequence of the pool closed its windows). */
    synchronized int inUse() {
        return allocated - freeCount;
    }

    /** Bytes of one chunk, keys and values. */
    long chunkBytes() {
        return 2 * halfBytes;
    }
}
