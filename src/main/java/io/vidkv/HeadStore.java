package io.vidkv;

import io.vidkv.codec.HeadState;
import io.vidkv.internal.HeadStream;

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
 *
 * <p>Under {@link CapacityPolicy.OnFull#EVICT_OLDEST} whole pages of the oldest blocks are dropped;
 * the page and block directories are rings, so eviction moves no data and allocates nothing. Block
 * indices stay relative to the oldest retained block: block {@code i} covers positions
 * {@code firstPosition() + i * G ..}, and the window starts at {@code firstPosition() + blockCount() * G}.
 */
final class HeadStore implements HeadStream {

    private final int headDim;
    private final int groupSize;
    private final int windowCapacity;
    /** Ring of held pages: pages[(pageHead + i) % pageCap] is the i-th oldest. */
    private final MemorySegment[] pages;
    /** Blocks in each held page (same ring index as {@link #pages}). */
    private final int[] pageBlocks;
    /** Ring of retained blocks: the page ring index and byte offset of block i are at (blockHead + i) % blockCap. */
    private final int[] blockPage;
    private final int[] blockOffset;
    private final MemorySegment windowKeys;
    private final MemorySegment windowValues;
    final HeadState state;
    private int pageHead;
    private int pageCount;
    private int pageUsed;
    private int blockHead;
    private int blocks;
    private int evictedBlocks;
    private int windowStart;
    private int windowCount;

    HeadStore(int headDim, int groupSize, int windowCapacity, int maxBlocks, Arena arena) {
        this.headDim = headDim;
        this.groupSize = groupSize;
        this.windowCapacity = windowCapacity;
        this.pages = new MemorySegment[maxBlocks + 1];
        this.pageBlocks = new int[maxBlocks + 1];
        this.blockPage = new int[maxBlocks];
        this.blockOffset = new int[maxBlocks];
        this.windowKeys = arena.allocate((long) windowCapacity * headDim * Float.BYTES, 64);
        this.windowValues = arena.allocate((long) windowCapacity * headDim * Float.BYTES, 64);
        this.state = new HeadState(headDim);
    }

    /** Retained blocks (evicted ones are not counted). */
    @Override
    public int blockCount() {
        return blocks;
    }

    /** Position of the first token of block 0 (0 unless blocks were evicted). */
    @Override
    public int firstPosition() {
        return evictedBlocks * groupSize;
    }

    @Override
    public MemorySegment page(int block) {
        return pages[blockPage[blockSlot(block)]];
    }

    @Override
    public long offset(int block) {
        return blockOffset[blockSlot(block)];
    }

    @Override
    public HeadState state() {
        return state;
    }

    @Override
    public int windowCount() {
        return windowCount;
    }

    /** Ring slot of window token j (0 = oldest). */
    @Override
    public int windowSlot(int j) {
        int s = windowStart + j;
        return s >= windowCapacity ? s - windowCapacity : s;
    }

    @Override
    public MemorySegment windowKeys() {
        return windowKeys;
    }

    @Override
    public MemorySegment windowValues() {
        return windowValues;
    }

    private int blockSlot(int block) {
        int s = blockHead + block;
        return s >= blockPage.length ? s - blockPage.length : s;
    }

    private int pageSlot(int i) {
        int s = pageHead + i;
        return s >= pages.length ? s - pages.length : s;
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
        if (blocks >= blockPage.length) {
            throw new IllegalStateException("internal error: block directory full (" + blocks + " blocks)");
        }
        if (bytes > pageRoom(pageBytes)) { // the rule LayerStore.pagesPerHead plans with
            int slot = pageSlot(pageCount++);
            pages[slot] = reserved.take();
            pageBlocks[slot] = 0;
            pageUsed = 0;
        }
        int b = blockSlot(blocks);
        blockPage[b] = pageSlot(pageCount - 1);
        blockOffset[b] = pageUsed;
        return pages[blockPage[b]];
    }

    /** Commits the block placed by {@link #placeBlock}. */
    void commitBlock(long bytes) {
        pageUsed += (int) bytes;
        pageBlocks[pageSlot(pageCount - 1)]++;
        blocks++;
    }

    /** Blocks held in the oldest {@code n} pages (what evicting them drops). */
    int blocksInOldestPages(int n) {
        int sum = 0;
        for (int i = 0; i < n; i++) {
            sum += pageBlocks[pageSlot(i)];
        }
        return sum;
    }

    /**
     * Drops the oldest {@code n} pages and their blocks; the pages go to {@code into}, where the
     * append that caused the eviction reuses them (or returns them to the pool).
     */
    void evictOldestPages(int n, PageReservation into) {
        for (int i = 0; i < n; i++) {
            int slot = pageHead;
            into.addRecycled(pages[slot]);
            pages[slot] = null;
            int nb = pageBlocks[slot];
            blockHead = blockSlot(nb);
            blocks -= nb;
            evictedBlocks += nb;
            pageHead = pageSlot(1);
            pageCount--;
        }
        if (pageCount == 0) {
            pageHead = 0;
            pageUsed = 0;
        }
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
            int slot = pageSlot(i);
            pool.release(pages[slot]);
            pages[slot] = null;
        }
        pageCount = 0;
    }
}
