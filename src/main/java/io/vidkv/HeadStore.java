package io.vidkv;

import io.vidkv.codec.HeadState;
import io.vidkv.internal.HeadStream;

import java.lang.foreign.MemorySegment;

/**
 * The cache of one (layer, KV head): a sequence of quantized blocks of G tokens in pages from the
 * pool, then the residual window of the newest tokens in full precision (float32,
 * {@link ResidualWindow}).
 *
 * <p>Read access for kernels is zero-copy and allocation-free: block {@code i} covers tokens
 * [i * G, (i + 1) * G) and lives in {@link #page(int)} at {@link #offset(int)}; the window's token
 * {@code j} (position {@code blockCount() * G + j}) is at slot {@link #windowSlot(int)} of
 * {@link #windowKeys(int)} / {@link #windowValues(int)}, each slot d floats. Quantizing a group
 * never moves the remaining tokens.
 *
 * <p>Under {@link CapacityPolicy.OnFull#EVICT_OLDEST} whole pages of the oldest blocks are dropped;
 * the page and block directories are rings, so eviction moves no data and allocates nothing. Block
 * indices stay relative to the oldest retained block: block {@code i} covers positions
 * {@code firstPosition() + i * G ..}, and the window starts at {@code firstPosition() + blockCount() * G}.
 *
 * <p>Sharing ({@link KvCache#fork()}): pages are reference-counted ({@link Page}), and so are the
 * window's chunks ({@link WindowChunk}). A fork copies the directories and the window's token
 * entries and adds a reference to every page and window chunk (no window byte is copied); it also
 * <em>seals</em> the partly filled tail page on both sides, so that neither writes into a page the
 * other reads: the next block of each side opens a page of its own. The cost is the sealed page's unused tail (less than
 * one block's worth below a page, held once for all sides); the alternative, copying the tail page
 * into the child, would cost a page per head and fork at once and still leave the parent's tail
 * shared. Pages restored from a snapshot are sealed the same way (a mapped page is read-only). A
 * sealed tail that every head of the layer holds alone again (the other side closed or evicted it)
 * is unsealed at the layer's next append ({@link LayerStore#reclaimTails}), so forks that come and
 * go do not leave every later block in a page of its own.
 * Eviction drops this head's reference to its oldest pages; a page another sequence still
 * references stays where it is (only pages held alone are reused for the evicting append).
 */
final class HeadStore implements HeadStream {

    private final int groupSize;
    /** Ring of held pages: pages[(pageHead + i) % pageCap] is the i-th oldest. */
    private final Page[] pages;
    /** Blocks in each held page (same ring index as {@link #pages}). */
    private final int[] pageBlocks;
    /** Ring of retained blocks: the page ring index and byte offset of block i are at (blockHead + i) % blockCap. */
    private final int[] blockPage;
    private final int[] blockOffset;
    /** The residual window (its own file: chunks shared with forks). */
    final ResidualWindow window;
    final HeadState state;
    private int pageHead;
    private int pageCount;
    private int pageUsed;
    private int blockHead;
    private int blocks;
    private int evictedBlocks;
    /** The tail page is shared or read-only: the next block opens a new page (see the class comment). */
    private boolean sealed;

    /** A window of at most {@code windowCapacity} tokens in chunks from {@code windowChunks}. */
    HeadStore(int headDim, int groupSize, int windowCapacity, int maxBlocks, WindowChunks windowChunks) {
        this.groupSize = groupSize;
        this.pages = new Page[maxBlocks + 1];
        this.pageBlocks = new int[maxBlocks + 1];
        this.blockPage = new int[maxBlocks];
        this.blockOffset = new int[maxBlocks];
        this.window = new ResidualWindow(headDim, windowCapacity, windowChunks);
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
        return pages[blockPage[blockSlot(block)]].segment;
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
        return window.count();
    }

    /** Slot of window token j (0 = oldest) in its chunk. */
    @Override
    public int windowSlot(int j) {
        return window.slot(j);
    }

    @Override
    public MemorySegment windowKeys(int j) {
        return window.keys(j);
    }

    @Override
    public MemorySegment windowValues(int j) {
        return window.values(j);
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

    /**
     * Whether the tail page is sealed but referenced by this head alone in writable memory now (the
     * other sequences that shared it closed or evicted it), so it could take blocks again.
     */
    boolean tailReclaimable() {
        return sealed && pageCount > 0 && pages[pageSlot(pageCount - 1)].reusableBySoleHolder();
    }

    /** Unseals the tail page; the caller checked {@link #tailReclaimable} for every head of the layer. */
    void unsealTail() {
        sealed = false;
    }

    /** Bytes left in the current page (0 if there is none, or it is sealed). */
    long pageRoom(int pageBytes) {
        return pageCount == 0 || sealed ? 0 : pageBytes - pageUsed;
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
            sealed = false;
        }
        int b = blockSlot(blocks);
        blockPage[b] = pageSlot(pageCount - 1);
        blockOffset[b] = pageUsed;
        return pages[blockPage[b]].segment;
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
     * Of the oldest {@code n} pages, those this head holds alone in writable memory: what evicting
     * them gives the append to reuse (a shared or mapped page is only released).
     */
    int reusableInOldestPages(int n) {
        int sum = 0;
        for (int i = 0; i < n; i++) {
            if (pages[pageSlot(i)].reusableBySoleHolder()) {
                sum++;
            }
        }
        return sum;
    }

    /**
     * Drops the oldest {@code n} pages and their blocks; the pages held alone go to {@code into},
     * where the append that caused the eviction reuses them (or returns them to the pool); on a page
     * another sequence references, only this head's reference is released.
     */
    void evictOldestPages(int n, PageReservation into) {
        for (int i = 0; i < n; i++) {
            int slot = pageHead;
            Page page = pages[slot];
            if (page.reusableBySoleHolder()) {
                into.addRecycled(page);
            } else {
                page.release();
            }
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

    /** Copies the oldest {@code tokens} window tokens (keys or values) into dst[t * d + c]. */
    void readWindow(boolean keys, int firstToken, int tokens, float[] dst) {
        window.read(keys, firstToken, tokens, dst);
    }

    /** Drops the oldest G window tokens (after they were quantized). */
    void popGroup() {
        window.pop(groupSize);
    }

    /**
     * Releases this head's reference to every page and window chunk it holds (each goes back when its
     * last reference does); the pages even if the window's release throws.
     */
    void release() {
        try {
            window.release();
        } finally {
            for (int i = 0; i < pageCount; i++) {
                int slot = pageSlot(i);
                pages[slot].release();
                pages[slot] = null;
            }
            pageCount = 0;
        }
    }

    /**
     * Makes this (empty, new) head a fork of {@code parent}: the same blocks in the same pages, one
     * more reference on each, the window's chunks shared ({@link ResidualWindow#forkFrom}), a copy of
     * the per-head state; both tail pages sealed.
     * The parent is only read (its seal is a flag its own writer reads, published by the sequence's
     * in-use word between the fork, a read, and the next write).
     */
    void forkFrom(HeadStore parent) {
        System.arraycopy(parent.pages, 0, pages, 0, pages.length);
        System.arraycopy(parent.pageBlocks, 0, pageBlocks, 0, pageBlocks.length);
        System.arraycopy(parent.blockPage, 0, blockPage, 0, blockPage.length);
        System.arraycopy(parent.blockOffset, 0, blockOffset, 0, blockOffset.length);
        pageHead = parent.pageHead;
        pageCount = parent.pageCount;
        pageUsed = parent.pageUsed;
        blockHead = parent.blockHead;
        blocks = parent.blocks;
        evictedBlocks = parent.evictedBlocks;
        for (int i = 0; i < pageCount; i++) {
            pages[pageSlot(i)].retain();
        }
        if (pageCount > 0) {
            sealed = true;
            parent.sealed = true;
        }
        window.forkFrom(parent.window);
        copyState(parent.state, state);
    }

    /** Copies the calibrated per-head state (channel order, super-scales). */
    static void copyState(HeadState from, HeadState to) {
        System.arraycopy(from.keyOrder, 0, to.keyOrder, 0, to.keyOrder.length);
        System.arraycopy(from.keySuper, 0, to.keySuper, 0, to.keySuper.length);
        System.arraycopy(from.valueSuper, 0, to.valueSuper, 0, to.valueSuper.length);
        if (from.calibrated()) {
            to.markCalibrated();
        }
    }

    /** The i-th oldest held page (snapshot writer, memory report). */
    Page heldPage(int i) {
        return pages[pageSlot(i)];
    }

    /** Blocks in the i-th oldest held page. */
    int blocksInPage(int i) {
        return pageBlocks[pageSlot(i)];
    }

    /** Blocks evicted so far (the first retained block's index in the whole sequence). */
    int evictedBlocks() {
        return evictedBlocks;
    }

    /**
     * Restores a head of a snapshot into this empty head: {@code held} pages (one reference each,
     * now this head's), {@code blocksPerPage[i]} blocks in page i at {@code offsets} in order,
     * {@code evicted} blocks before them; the tail page sealed. The reader checked every count.
     */
    void restore(Page[] held, int[] blocksPerPage, int[] offsets, int evicted, int usedInLastPage) {
        int b = 0;
        for (int i = 0; i < held.length; i++) {
            pages[i] = held[i];
            pageBlocks[i] = blocksPerPage[i];
            for (int k = 0; k < blocksPerPage[i]; k++, b++) {
                blockPage[b] = i;
                blockOffset[b] = offsets[b];
            }
        }
        pageHead = 0;
        pageCount = held.length;
        blockHead = 0;
        blocks = b;
        evictedBlocks = evicted;
        pageUsed = usedInLastPage;
        sealed = held.length > 0;
    }

    /**
     * Restores the window's {@code n} tokens: in place from a mapped {@code chunk}, or ({@code chunk}
     * null) copied from keys as n x d little-endian floats at {@code keysAt} of {@code src}, values
     * at {@code valuesAt} (see {@link ResidualWindow#restore}).
     */
    void restoreWindow(WindowChunk chunk, MemorySegment src, long keysAt, long valuesAt, int n) {
        window.restore(chunk, src, keysAt, valuesAt, n);
    }
}
