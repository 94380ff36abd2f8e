package io.vidkv;

import io.vidkv.codec.HeadState;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The cache of one (layer, KV head): a sequence of quantized blocks of G tokens in pages from the
 * pool, then the residual window of the newest tokens in full precision (float32).
 *
 * <p>Read access for kernels is zero-copy and allocation-free: block {@code i} covers tokens
 * [i * G, (i + 1) * G) and lives in {@link #page(int)} at {@link #offset(int)}; the window's token
 * {@code j} (position {@code blockCount() * G + j}) is at slot {@link #windowSlot(int)} of
 * {@link #windowKeys()} / {@link #windowValues()}, each slot d floats. The window is a ring so
 * quantizing a group never moves the remaining tokens.
 */
public final class HeadStream {

    private final int headDim;
    private final int groupSize;
    private final int windowCapacity;
    private final MemorySegment[] pages;
    private final int[] blockPage;
    private final int[] blockOffset;
    private final MemorySegment windowKeys;
    private final MemorySegment windowValues;
    final HeadState state;
    private int pageCount;
    private int pageUsed;
    private int blocks;
    private int windowStart;
    private int windowCount;

    HeadStream(int headDim, int groupSize, int windowCapacity, int maxBlocks, Arena arena) {
        this.headDim = headDim;
        this.groupSize = groupSize;
        this.windowCapacity = windowCapacity;
        this.pages = new MemorySegment[maxBlocks + 1];
        this.blockPage = new int[maxBlocks];
        this.blockOffset = new int[maxBlocks];
        this.windowKeys = arena.allocate((long) windowCapacity * headDim * Float.BYTES, 64);
        this.windowValues = arena.allocate((long) windowCapacity * headDim * Float.BYTES, 64);
        this.state = new HeadState(headDim);
    }

    public int blockCount() {
        return blocks;
    }

    public MemorySegment page(int block) {
        return pages[blockPage[block]];
    }

    public long offset(int block) {
        return blockOffset[block];
    }

    public HeadState state() {
        return state;
    }

    public int windowCount() {
        return windowCount;
    }

    /** Ring slot of window token j (0 = oldest). */
    public int windowSlot(int j) {
        int s = windowStart + j;
        return s >= windowCapacity ? s - windowCapacity : s;
    }

    public MemorySegment windowKeys() {
        return windowKeys;
    }

    public MemorySegment windowValues() {
        return windowValues;
    }

    int pageCount() {
        return pageCount;
    }

    int windowCapacity() {
        return windowCapacity;
    }

    /** Bytes left in the current page (0 if there is none). */
    long pageRoom(int pageBytes) {
        return pageCount == 0 ? 0 : pageBytes - pageUsed;
    }

    /** Where the next block of {@code bytes} goes; takes a page from {@code reserved} if needed. */
    MemorySegment placeBlock(long bytes, int pageBytes, PageReservation reserved) {
        if (pageCount == 0 || pageUsed + bytes > pageBytes) {
            pages[pageCount++] = reserved.take();
            pageUsed = 0;
        }
        blockPage[blocks] = pageCount - 1;
        blockOffset[blocks] = pageUsed;
        return pages[pageCount - 1];
    }

    /** Commits the block placed by {@link #placeBlock}. */
    void commitBlock(long bytes) {
        pageUsed += (int) bytes;
        blocks++;
    }

    /** Counts in the token the caller just wrote at slot {@code windowSlot(windowCount())}. */
    void pushWindowSlotFilled() {
        if (windowCount >= windowCapacity) {
            throw new IllegalStateException("internal error: residual window overflow");
        }
        windowCount++;
    }

    /** Copies the oldest {@code tokens} window tokens (keys or values) into dst[t * d + c]. */
    void readWindow(boolean keys, int firstToken, int tokens, float[] dst) {
        MemorySegment src = keys ? windowKeys : windowValues;
        for (int t = 0; t < tokens; t++) {
            long base = (long) windowSlot(firstToken + t) * headDim * Float.BYTES;
            MemorySegment.copy(src, ValueLayout.JAVA_FLOAT, base, dst, t * headDim, headDim);
        }
    }

    /** Drops the oldest G window tokens (after they were quantized). */
    void popGroup() {
        windowStart = windowSlot(groupSize);
        windowCount -= groupSize;
    }

    /** Returns all pages to the pool. */
    void releasePages(PagePool pool) {
        for (int i = 0; i < pageCount; i++) {
            pool.release(pages[i]);
            pages[i] = null;
        }
        pageCount = 0;
    }
}
