package io.vidkv;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The residual window of one (layer, KV head): its newest tokens in float32, oldest first, kept in
 * reference-counted {@link WindowChunk}s so that a fork shares its parent's window instead of
 * copying it. Token {@code j} (0 = oldest) is at slot {@link #slot(int)} of {@link #keys(int)} /
 * {@link #values(int)}: a ring of per-token entries (chunk, slot), so quantizing a group moves no
 * data and reading a token costs two array loads.
 *
 * <p>Writing: the head writes only into its <em>open</em> chunk, one it took from the pool's
 * {@link WindowChunks} itself, and only past the slots it filled before; a full open chunk is
 * replaced by a fresh one. A fork copies the parent's entries and adds a reference to each chunk
 * they name, and opens no chunk: its first token takes a fresh chunk. So the parent may keep filling
 * its open chunk while the fork reads the slots filled before the fork (disjoint bytes), and no
 * shared slot is ever written again; nothing is copied, whatever the window holds. A window restored
 * {@link SnapshotMode#MAPPED} names one read-only chunk in the file's mapping and likewise opens a
 * fresh chunk for its first new token.
 *
 * <p>References: one per run of consecutive entries in the same chunk (a chunk's tokens are
 * consecutive), taken when the run starts and dropped when its last token is quantized, plus one
 * for the open chunk while it is open (a writer's reference: the chunk stays this head's to fill
 * even when all its tokens are gone). A chunk goes back to its owner when its last reference goes.
 * Allocation-free once the pool has free chunks.
 */
final class ResidualWindow {

    private final int headDim;
    private final WindowChunks source;
    /** Ring of tokens: chunks[(start + j) % capacity] and slots[...] hold token j. */
    private final WindowChunk[] chunks;
    private final int[] slots;
    private int start;
    private int count;
    /** The chunk this head fills (taken from {@link #source} by this head), or null. */
    private WindowChunk open;
    private int openUsed;

    /** Holds at most {@code capacity} tokens of {@code headDim} floats, in chunks from {@code source}. */
    ResidualWindow(int headDim, int capacity, WindowChunks source) {
        this.headDim = headDim;
        this.source = source;
        this.chunks = new WindowChunk[capacity];
        this.slots = new int[capacity];
    }

    int count() {
        return count;
    }

    int capacity() {
        return chunks.length;
    }

    private int ring(int j) {
        int s = start + j;
        return s >= chunks.length ? s - chunks.length : s;
    }

    /** Slot of token j in {@link #keys(int)} / {@link #values(int)}, in units of headDim floats. */
    int slot(int j) {
        return slots[ring(j)];
    }

    /** The keys segment holding token j. */
    MemorySegment keys(int j) {
        return chunks[ring(j)].keys;
    }

    /** The values segment holding token j. */
    MemorySegment values(int j) {
        return chunks[ring(j)].values;
    }

    /**
     * Makes room for one more token: returns its slot in {@link #openKeys()} / {@link #openValues()},
     * where the caller writes it before {@link #push()}. Takes a fresh chunk when none is open or the
     * open one is full.
     */
    int nextSlot() {
        if (count >= chunks.length) {
            throw new IllegalStateException("internal error: residual window overflow");
        }
        if (open == null || openUsed == open.capacity) {
            WindowChunk full = open;
            open = null;
            if (full != null) {
                full.release(); // the writer's reference; its tokens still hold theirs
            }
            open = source.take();
            openUsed = 0;
        }
        return openUsed;
    }

    MemorySegment openKeys() {
        return open.keys;
    }

    MemorySegment openValues() {
        return open.values;
    }

    /** Counts in the token just written at {@link #nextSlot()}. */
    void push() {
        if (count == 0 || chunks[ring(count - 1)] != open) {
            open.retain(); // a new run of this chunk
        }
        int r = ring(count);
        chunks[r] = open;
        slots[r] = openUsed++;
        count++;
    }

    /** Drops the oldest {@code n} tokens (after they were quantized). */
    void pop(int n) {
        if (n > count) {
            throw new IllegalStateException("internal error: popping " + n + " of " + count + " window tokens");
        }
        for (int i = 0; i < n; i++) {
            int r = ring(0);
            WindowChunk c = chunks[r];
            chunks[r] = null;
            start = ring(1);
            count--;
            if (count == 0 || chunks[start] != c) {
                c.release(); // the run's last token
            }
        }
    }

    /** Copies tokens [first, first + tokens) (keys or values) into dst[t * d + c]. */
    void read(boolean keys, int first, int tokens, float[] dst) {
        for (int t = 0; t < tokens; t++) {
            int r = ring(first + t);
            WindowChunk c = chunks[r];
            MemorySegment.copy(keys ? c.keys : c.values, ValueLayout.JAVA_FLOAT, (long) slots[r] * headDim * Float.BYTES,
                    dst, t * headDim, headDim);
        }
    }

    /**
     * Makes this (empty) window a fork of {@code parent}'s: the same entries, one more reference per
     * run, no chunk open. The parent is only read.
     */
    void forkFrom(ResidualWindow parent) {
        for (int j = 0; j < parent.count; j++) {
            int from = parent.ring(j);
            WindowChunk c = parent.chunks[from];
            if (j == 0 || c != parent.chunks[parent.ring(j - 1)]) {
                c.retain();
            }
            chunks[j] = c;
            slots[j] = parent.slots[from];
            if (j == parent.count - 1 || parent.chunks[parent.ring(j + 1)] != c) {
                c.markShared(slots[j] + 1); // the run's end: the parent may fill the slots past it for itself
            }
        }
        start = 0;
        count = parent.count;
    }

    /**
     * Restores {@code n} tokens (an empty window): as one read-only {@code chunk} of n slots (mapped;
     * the chunk's one reference becomes this window's), or, {@code chunk} null, copied from
     * little-endian floats at {@code keysAt} / {@code valuesAt} of {@code src} into chunks of its own.
     */
    void restore(WindowChunk chunk, MemorySegment src, long keysAt, long valuesAt, int n) {
        if (chunk != null) {
            for (int j = 0; j < n; j++) {
                chunks[j] = chunk;
                slots[j] = j;
            }
            start = 0;
            count = n;
            return;
        }
        long tokenBytes = (long) headDim * Float.BYTES;
        for (int j = 0; j < n; j++) {
            long at = (long) nextSlot() * tokenBytes;
            MemorySegment.copy(src, SnapshotFormat.F32, keysAt + j * tokenBytes, open.keys, ValueLayout.JAVA_FLOAT, at, headDim);
            MemorySegment.copy(src, SnapshotFormat.F32, valuesAt + j * tokenBytes, open.values, ValueLayout.JAVA_FLOAT, at,
                    headDim);
            push();
        }
    }

    /** Tokens that other heads (of other sequences) reference too, a moment's count ({@link WindowChunk#sharedAt}). */
    int sharedTokens() {
        int n = 0;
        for (int j = 0; j < count; j++) {
            int r = ring(j);
            WindowChunk c = chunks[r];
            if (c.sharedAt(slots[r], c == open ? 2 : 1)) { // the open chunk's writer reference is this head's too
                n++;
            }
        }
        return n;
    }

    /** Releases every reference this window holds; it is empty after. */
    void release() {
        pop(count);
        if (open != null) {
            WindowChunk c = open;
            open = null;
            c.release();
        }
    }
}
