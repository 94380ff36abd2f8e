package io.vidkv;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.file.Path;

import static io.vidkv.SnapshotFormat.F32;
import static io.vidkv.SnapshotFormat.U16;
import static io.vidkv.SnapshotFormat.U32;
import static io.vidkv.SnapshotFormat.U64;

/**
 * {@link KvCache#openSnapshot}: a new sequence from a checked snapshot file ({@link SnapshotReader}),
 * holding what the saved one held: the same blocks and residual windows (in place from the file's
 * mapping, or copied into pool pages and window chunks), per-head state, protected positions and
 * counts, so it attends bit for bit
 * as the saved sequence did. Its tail pages are sealed like a fork's (a mapped page is read-only;
 * a loaded one could be appended to, but one rule for both keeps the layout the same), so its first
 * new block of each head opens a pool page.
 */
final class SnapshotRestore {

    private SnapshotRestore() {
    }

    static KvCache open(Path file, ModelShape shape, CacheConfig config, PagePool pool, ParallelRunner runner,
                        SnapshotMode mode) throws IOException {
        if (mode == SnapshotMode.MAPPED) {
            for (int l = 0; l < config.layers().size(); l++) {
                if (config.layer(l).referenceMode()) {
                    throw new IllegalStateException("layer " + l + " is in the reference mode, which re-quantizes old blocks "
                            + "in place; a read-only mapping cannot hold them: open the snapshot LOADED");
                }
            }
        }
        if (pool != null && pool.isClosed()) {
            throw new IllegalStateException("page pool is closed (nothing was opened)");
        }
        Arena arena = Arena.ofShared();
        SnapshotMapping mapping = null;
        KvCache cache = null;
        try {
            SnapshotReader r = SnapshotReader.parse(file, arena, runner);
            r.expect(shape, config);
            r.check(config, runner);
            boolean[] calibrated = new boolean[r.layers.length];
            for (int l = 0; l < calibrated.length; l++) {
                calibrated[l] = r.layers[l].calibrated();
            }
            cache = KvCache.emptyForRestore(shape, config, pool, runner, calibrated);
            Page[] pages = new Page[r.totalPages];
            long pageSection = r.sections.get(SnapshotFormat.PAGE).offset();
            int pageBytes = config.pageBytes();
            if (mode == SnapshotMode.MAPPED) {
                // from here the pages and window chunks own the mapping, which closes with the last
                // of them (one that hands none out is closed below)
                mapping = new SnapshotMapping(file, arena);
                for (int i = 0; i < pages.length; i++) {
                    pages[i] = mapping.page(r.map, pageSection + (long) i * pageBytes, pageBytes);
                }
            } else {
                PagePool from = cache.pagePool();
                if (!from.canAcquire(pages.length)) {
                    throw new CapacityExceededException("snapshot " + file + ": loading needs " + pages.length
                            + " free pages of the pool (nothing was opened)");
                }
                try {
                    for (int i = 0; i < pages.length; i++) {
                        pages[i] = from.acquire();
                        MemorySegment.copy(r.map, pageSection + (long) i * pageBytes, pages[i].segment, 0, pageBytes);
                    }
                } catch (Throwable t) { // another sequence took the last pages meanwhile
                    for (Page p : pages) {
                        if (p != null) {
                            p.release();
                        }
                    }
                    throw t;
                }
            }
            install(r, cache, pages, mapping);
            return cache;
        } catch (Throwable t) {
            if (cache != null) {
                cache.close();
            }
            throw t;
        } finally {
            if (mapping != null) {
                mapping.closeIfUnused();
            } else {
                arena.close(); // LOADED copied what it needs; a failed open keeps nothing
            }
        }
    }

    /**
     * Gives every head its pages (the one reference each page has is the head's; the installed
     * count is what {@link KvCache#close} releases, so a failure part way still releases them all:
     * pages not yet installed are released here). With a {@code mapping}, the windows are read in
     * place from it too (where the platform's float order is the file's, little-endian); otherwise
     * they are copied into window chunks of the sequence's own.
     */
    private static void install(SnapshotReader r, KvCache cache, Page[] pages, SnapshotMapping mapping) {
        boolean mapWindows = mapping != null && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
        MemorySegment m = r.map;
        int d = cache.shape().headDim();
        ProtectedTokens protectedTokens = cache.protectedTokens();
        SnapshotReader.Section prot = r.sections.get(SnapshotFormat.PROT);
        long words = m.get(U32, prot.offset());
        for (long w = 0; w < words; w++) {
            long bits = m.get(U64, prot.offset() + 8 + 8 * w);
            while (bits != 0) {
                protectedTokens.add((int) (w * 64 + Long.numberOfTrailingZeros(bits))); // checked < capacity
                bits &= bits - 1;
            }
        }
        LayerStore[] layers = cache.layerStores();
        boolean[] installed = new boolean[pages.length];
        try {
            for (int l = 0; l < layers.length; l++) {
                LayerStore ls = layers[l];
                SnapshotReader.LayerPlan lp = r.layers[l];
                int g = ls.config.groupSize();
                ls.tokens = lp.tokens();
                ls.quantizedTokens = lp.quantized();
                ls.evictedTokens = lp.evicted();
                ls.calibrated = lp.calibrated();
                int blocks = (lp.quantized() - lp.evicted()) / g;
                long[] blockBytes = new long[blocks]; // the same for every head: protection is per position
                for (int b = 0; b < blocks; b++) {
                    int protectedCount = protectedTokens.count(lp.evicted() + b * g, g);
                    ls.countBlocks(protectedCount, ls.heads.length);
                    blockBytes[b] = ls.blockBytes(protectedCount);
                }
                for (int h = 0; h < ls.heads.length; h++) {
                    SnapshotReader.HeadPlan hp = lp.heads()[h];
                    HeadStore hs = ls.heads[h];
                    long at = hp.record() + 16;
                    for (int c = 0; c < d; c++) {
                        hs.state.keyOrder[c] = Short.toUnsignedInt(m.get(U16, at + 2L * c));
                    }
                    MemorySegment.copy(m, F32, at + 2L * d, hs.state.keySuper, 0, d);
                    MemorySegment.copy(m, F32, at + 6L * d, hs.state.valueSuper, 0, d);
                    if (hp.calibrated()) {
                        hs.state.markCalibrated();
                    }
                    Page[] held = new Page[hp.pages()];
                    int[] blocksPerPage = new int[hp.pages()];
                    int[] offsets = new int[blocks];
                    long entries = at + 10L * d;
                    int b = 0;
                    long used = 0;
                    for (int i = 0; i < held.length; i++) {
                        int index = m.get(U32, entries + 8L * i);
                        held[i] = pages[index];
                        installed[index] = true;
                        blocksPerPage[i] = m.get(U32, entries + 8L * i + 4);
                        used = 0;
                        for (int k = 0; k < blocksPerPage[i]; k++, b++) {
                            offsets[b] = (int) used;
                            used += blockBytes[b];
                        }
                    }
                    hs.restore(held, blocksPerPage, offsets, hp.evictedBlocks(), (int) used);
                    long keysAt = hp.window(), valuesAt = keysAt + (long) hp.windowTokens() * d * Float.BYTES;
                    WindowChunk mapped = mapWindows && hp.windowTokens() > 0
                            ? mapping.windowChunk(m, keysAt, valuesAt, hp.windowTokens(), d) : null;
                    hs.restoreWindow(mapped, m, keysAt, valuesAt, hp.windowTokens());
                }
            }
        } catch (Throwable t) {
            for (int i = 0; i < pages.length; i++) {
                if (!installed[i] && pages[i] != null) {
                    pages[i].release();
                }
            }
            throw t;
        }
    }
}
