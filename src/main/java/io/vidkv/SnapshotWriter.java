package io.vidkv;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

import static io.vidkv.SnapshotFormat.F32;
import static io.vidkv.SnapshotFormat.F64;
import static io.vidkv.SnapshotFormat.U16;
import static io.vidkv.SnapshotFormat.U32;
import static io.vidkv.SnapshotFormat.U64;

/**
 * Writes one sequence as a {@link SnapshotFormat} file, atomically: everything goes into a
 * temporary file beside the target (mapped read-write, so pages are copied once, straight from the
 * pool into the page cache), which is forced to disk, renamed over the target, and the directory
 * forced too. A reader therefore sees the old file or the complete new one, never a partial file,
 * and a mapping of the old file keeps its contents (the rename does not touch its inode).
 */
final class SnapshotWriter {

    private SnapshotWriter() {
    }

    /** Writes {@code cache}, which the caller holds a read of (no append moves it meanwhile). */
    static void write(KvCache cache, Path file) throws IOException {
        ModelShape shape = cache.shape();
        CacheConfig config = cache.config();
        LayerStore[] layers = cache.layerStores();
        long[] words = cache.protectedTokens().words();
        int d = shape.headDim();
        long headBytes = 0, windowBytes = 0;
        int pages = 0;
        for (LayerStore ls : layers) {
            headBytes += SnapshotFormat.LAYER_RECORD_BYTES;
            for (HeadStore hs : ls.heads) {
                headBytes += SnapshotFormat.headRecordBytes(d, hs.pageCount());
                windowBytes += 2L * hs.windowCount() * d * Float.BYTES;
                pages += hs.pageCount();
            }
        }
        long[] length = {SnapshotFormat.SHAPE_BYTES, (long) layers.length * SnapshotFormat.LAYER_CONFIG_BYTES,
                8 + 8L * words.length, headBytes, windowBytes, (long) pages * config.pageBytes()};
        long[] offset = new long[SnapshotFormat.SECTIONS];
        long end = SnapshotFormat.TABLE_OFFSET + SnapshotFormat.TABLE_BYTES;
        for (int i = 0; i < offset.length; i++) {
            offset[i] = SnapshotFormat.align(end, i == SnapshotFormat.PAGE ? SnapshotFormat.PAGE_ALIGN : 8);
            end = offset[i] + length[i];
        }
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = dir.resolve("." + file.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                    StandardOpenOption.WRITE); Arena arena = Arena.ofConfined()) {
                MemorySegment m = ch.map(FileChannel.MapMode.READ_WRITE, 0, end, arena); // new bytes are zero
                writeShape(m, offset[SnapshotFormat.SHAP], shape, config);
                writeConfig(m, offset[SnapshotFormat.CONF], config);
                m.set(U32, offset[SnapshotFormat.PROT], words.length);
                MemorySegment.copy(words, 0, m, U64, offset[SnapshotFormat.PROT] + 8, words.length);
                writeHeadsWindowsPages(m, offset, cache, layers, d, config.pageBytes());
                for (int i = 0; i < SnapshotFormat.SECTIONS; i++) {
                    long e = SnapshotFormat.entry(i);
                    byte[] tag = SnapshotFormat.TAGS[i].getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                    MemorySegment.copy(tag, 0, m, ValueLayout.JAVA_BYTE, e, 4);
                    m.set(U32, e + 4, i == SnapshotFormat.PAGE ? pagesCrc(m, offset[i], pages, config.pageBytes())
                            : SnapshotFormat.crc(m, offset[i], length[i]));
                    m.set(U64, e + 8, offset[i]);
                    m.set(U64, e + 16, length[i]);
                }
                long tableEnd = SnapshotFormat.entry(SnapshotFormat.SECTIONS);
                m.set(U32, tableEnd, SnapshotFormat.crc(m, SnapshotFormat.TABLE_OFFSET, tableEnd - SnapshotFormat.TABLE_OFFSET));
                MemorySegment.copy(SnapshotFormat.MAGIC, 0, m, ValueLayout.JAVA_BYTE, 0, 8);
                m.set(U32, 8, SnapshotFormat.VERSION);
                m.set(U32, 12, SnapshotFormat.SECTIONS);
                m.set(U64, 16, end);
                m.set(U32, SnapshotFormat.HEADER_CRC, SnapshotFormat.crc(m, 0, SnapshotFormat.HEADER_CRC));
                m.force();
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            try (FileChannel dirChannel = FileChannel.open(dir, StandardOpenOption.READ)) {
                dirChannel.force(true); // the rename itself is durable
            } catch (IOException ignored) {
                // some file systems cannot open a directory; the file's own bytes are forced already
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static int pagesCrc(MemorySegment m, long at, int pages, int pageBytes) {
        int[] crcs = new int[pages];
        for (int i = 0; i < pages; i++) {
            crcs[i] = SnapshotFormat.crc(m, at + (long) i * pageBytes, pageBytes);
        }
        return SnapshotFormat.pagesCrc(crcs);
    }

    private static void writeShape(MemorySegment m, long at, ModelShape shape, CacheConfig config) {
        m.set(U32, at, shape.layers());
        m.set(U32, at + 4, shape.queryHeads());
        m.set(U32, at + 8, shape.kvHeads());
        m.set(U32, at + 12, shape.headDim());
        m.set(U32, at + 16, config.pageBytes());
        m.set(U32, at + 20, config.capacity().maxTokens());
        m.set(U32, at + 24, config.capacity().onFull().ordinal());
    }

    private static void writeConfig(MemorySegment m, long at, CacheConfig config) {
        for (int l = 0; l < config.layers().size(); l++) {
            LayerConfig c = config.layer(l);
            long o = at + (long) l * SnapshotFormat.LAYER_CONFIG_BYTES;
            KeySpec k = c.keys();
            m.set(U32, o, k.kind().ordinal());
            m.set(U32, o + 4, k.bits());
            m.set(U32, o + 8, k.axis().ordinal());
            m.set(U32, o + 12, k.split().ordinal());
            m.set(U32, o + 16, k.spectral() ? 1 : 0);
            m.set(U32, o + 20, k.splitPerGroup() ? 1 : 0);
            m.set(U32, o + 24, k.fit().ordinal());
            m.set(F64, o + 32, k.keyBits());
            ValueSpec v = c.values();
            m.set(U32, o + 40, v.kind().ordinal());
            m.set(U32, o + 44, v.bits());
            m.set(U32, o + 48, v.axis().ordinal());
            m.set(U32, o + 52, v.packing().ordinal());
            m.set(U32, o + 56, v.protection() ? 1 : 0);
            m.set(U32, o + 60, v.threshold().ordinal());
            m.set(U32, o + 64, v.fit().ordinal());
            m.set(U32, o + 68, v.tokenScaleBits());
            m.set(F64, o + 72, v.gamma());
            m.set(F64, o + 80, v.protectedFraction());
            m.set(U32, o + 88, c.groupSize());
            m.set(U32, o + 92, c.residual());
            m.set(U32, o + 96, c.calibrationGroups());
            m.set(U32, o + 100, c.metadata().ordinal());
        }
    }

    private static void writeHeadsWindowsPages(MemorySegment m, long[] offset, KvCache cache, LayerStore[] layers, int d,
                                               int pageBytes) {
        long head = offset[SnapshotFormat.HEAD];
        long window = offset[SnapshotFormat.WIND];
        long pageAt = offset[SnapshotFormat.PAGE];
        int pageIndex = 0;
        for (LayerStore ls : layers) {
            m.set(U32, head, ls.tokens);
            m.set(U32, head + 4, ls.quantizedTokens);
            m.set(U32, head + 8, ls.evictedTokens);
            m.set(U32, head + 12, ls.calibrated ? 1 : 0);
            head += SnapshotFormat.LAYER_RECORD_BYTES;
            int g = ls.config.groupSize();
            for (HeadStore hs : ls.heads) {
                m.set(U32, head, hs.windowCount());
                m.set(U32, head + 4, hs.pageCount());
                m.set(U32, head + 8, hs.evictedBlocks());
                m.set(U32, head + 12, hs.state.calibrated() ? 1 : 0);
                for (int r = 0; r < d; r++) {
                    m.set(U16, head + 16 + 2L * r, (short) hs.state.keyOrder[r]);
                }
                MemorySegment.copy(hs.state.keySuper, 0, m, F32, head + 16 + 2L * d, d);
                MemorySegment.copy(hs.state.valueSuper, 0, m, F32, head + 16 + 6L * d, d);
                long entry = head + 16 + 10L * d;
                int block = 0;
                for (int i = 0; i < hs.pageCount(); i++) {
                    m.set(U32, entry + 8L * i, pageIndex);
                    m.set(U32, entry + 8L * i + 4, hs.blocksInPage(i));
                    long used = 0;
                    for (int k = 0; k < hs.blocksInPage(i); k++, block++) {
                        if (hs.offset(block) != used) { // blocks are packed from byte 0: the format relies on it
                            throw new IllegalStateException("internal error: layer " + ls.index + " block " + block
                                    + " at offset " + hs.offset(block) + ", expected " + used);
                        }
                        int position = hs.firstPosition() + block * g;
                        used += ls.blockBytes(cache.protectedTokens().count(position, g));
                    }
                    MemorySegment.copy(hs.heldPage(i).segment, 0, m, pageAt + (long) pageIndex * pageBytes, used);
                    pageIndex++;
                }
                head += SnapshotFormat.headRecordBytes(d, hs.pageCount());
                for (int j = 0; j < hs.windowCount(); j++) {
                    long slot = (long) hs.windowSlot(j) * d * Float.BYTES;
                    MemorySegment.copy(hs.windowKeys(j), ValueLayout.JAVA_FLOAT, slot, m, F32, window + (long) j * d * 4, d);
                    MemorySegment.copy(hs.windowValues(j), ValueLayout.JAVA_FLOAT, slot, m, F32,
                            window + ((long) hs.windowCount() + j) * d * 4, d);
                }
                window += 2L * hs.windowCount() * d * Float.BYTES;
            }
        }
    }
}
