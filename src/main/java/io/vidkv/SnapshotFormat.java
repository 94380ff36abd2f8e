package io.vidkv;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The snapshot file, format version {@value #VERSION}: every byte of what {@link KvCache#saveTo}
 * writes and {@link KvCache#openSnapshot} reads, in one place. All numbers are little-endian;
 * {@code u32}/{@code u64} unsigned in practice (the reader rejects values that do not fit an
 * {@code int} where one is meant), {@code f32}/{@code f64} IEEE. Enum fields hold the ordinal of
 * the enum constant as declared in this version; changing an enum's constants means a new format
 * version. Every byte of a file is covered: the header and the section table by their own CRC32C,
 * each section by the CRC32C in its table entry, and the gaps between sections must be zero.
 *
 * <pre>
 * file = header | section table | SHAP | CONF | PROT | HEAD | WIND | zero padding | PAGE
 *
 * header, HEADER_BYTES = 32 at offset 0
 *   0   8  magic "VIDKVSNP" (ASCII)
 *   8   4  u32 format version (2; 1 is read too, see VERSION)
 *  12   4  u32 section count (SECTIONS = 6)
 *  16   8  u64 file length in bytes
 *  24   4  u32 CRC32C of bytes [0, 24)
 *  28   4  zero
 * section table at TABLE_OFFSET = 32: SECTIONS entries of ENTRY_BYTES = 24, entry i at 32 + 24 i
 *   0   4  tag, 4 ASCII bytes: SHAP, CONF, PROT, HEAD, WIND, PAGE in this order
 *   4   4  u32 CRC32C of the section's bytes; for PAGE, of its pages' CRC32Cs (u32 each, in page order),
 *          so that pages can be verified in parallel
 *   8   8  u64 offset of the section in the file (a multiple of 8; PAGE's a multiple of PAGE_ALIGN = 4096)
 *  16   8  u64 length of the section in bytes
 * then u32 CRC32C of the table's bytes, then 4 zero bytes: the first section starts at 32 + 24 x 6 + 8 = 184.
 * Sections follow in table order, each at the next multiple of 8 after the previous one (PAGE at
 * the next multiple of 4096), with zero bytes in between.
 *
 * SHAP, SHAPE_BYTES = 28: the model shape and the saving sequence's page size and capacity
 *   0 u32 layers   4 u32 queryHeads   8 u32 kvHeads   12 u32 headDim
 *  16 u32 pageBytes   20 u32 capacity maxTokens   24 u32 capacity OnFull
 *
 * CONF: layers x LAYER_CONFIG_BYTES = 104, layer l's LayerConfig at 104 l
 *   0 u32 KeySpec.kind    4 u32 KeySpec.bits     8 u32 KeySpec.axis   12 u32 KeySpec.split
 *  16 u32 KeySpec.spectral (0/1)  20 u32 KeySpec.splitPerGroup (0/1)  24 u32 KeySpec.fit  28 zero
 *  32 f64 KeySpec.keyBits
 *  40 u32 ValueSpec.kind  44 u32 ValueSpec.bits  48 u32 ValueSpec.axis  52 u32 ValueSpec.packing
 *  56 u32 ValueSpec.protection (0/1)  60 u32 ValueSpec.threshold  64 u32 ValueSpec.fit
 *  68 u32 ValueSpec.tokenScaleBits (0, 3 or 4; 0 in a version-1 file)
 *  72 f64 ValueSpec.gamma   80 f64 ValueSpec.protectedFraction
 *  88 u32 groupSize G   92 u32 residual R   96 u32 calibrationGroups C   100 u32 MetadataFormat
 *
 * PROT: the protected token positions
 *   0 u32 word count W = ceil(maxTokens / 64)   4 zero   8 + 8 w: u64 word w (bit p mod 64 of
 *   word p / 64 set: position p is protected)
 *
 * HEAD: for each layer l in order, a layer record, then one head record per KV head h in order
 *   layer record, LAYER_RECORD_BYTES = 16
 *     0 u32 tokens appended   4 u32 tokens quantized   8 u32 tokens evicted   12 u32 calibrated (0/1)
 *   head record, HEAD_RECORD_BYTES = 16 + 10 d + 8 P (d = headDim, P = its pages)
 *     0 u32 window tokens n (= tokens - quantized)   4 u32 pages P   8 u32 blocks evicted (x G = tokens evicted)
 *    12 u32 calibrated (0/1)
 *    16 d x u16 key channel order (row r stores channel order[r]; a permutation of [0, d))
 *    16 + 2d   d x f32 key super-scales     16 + 6d   d x f32 value super-scales (finite, > 0)
 *    16 + 10d  P x (u32 index of the page in PAGE, u32 blocks in it), oldest page first
 *   The head's blocks (quantized - evicted) / G in all, in position order, fill its pages in order.
 *
 * WIND: for each layer, each KV head: n x d f32 keys of the window, oldest token first, then n x d
 *   f32 values (finite)
 *
 * PAGE: pages x pageBytes; page i at offset i x pageBytes. Each page holds its head's blocks packed
 *   from byte 0 in position order, block b of a layer being keyBlockBytes + valueBlockBytes(its
 *   protected count) long, laid out as io.vidkv.layout states for the layer's config; the rest of
 *   the page is zero. Every page index appears exactly once in HEAD.
 * </pre>
 *
 * <p>The reader ({@code SnapshotReader}) checks, in this order and before it allocates anything
 * whose size the file declares: the file is at least a header long, the magic, the version, the
 * header CRC, the declared file length against the real one, the table CRC and every entry (tag,
 * order, alignment, within the file, no overlap, zero gaps), each section's CRC, then the contents:
 * the shape and configuration against what the caller expects, and every count against the
 * configuration (windows within R + C x G tokens, blocks within the capacity, pages within the PAGE
 * section, each page used once, blocks fitting their pages).
 */
final class SnapshotFormat {

    private SnapshotFormat() {
    }

    static final byte[] MAGIC = {'V', 'I', 'D', 'K', 'V', 'S', 'N', 'P'};
    /**
     * Version 2 changed only the blocks of b-bit token scales (ValueSpec.tokenScaleBits != 0): a
     * step byte after the block scale. A version-1 file without them reads the same in version 2.
     */
    static final int VERSION = 2;
    /** The oldest version this reader reads (without b-bit token scales). */
    static final int OLDEST_VERSION = 1;
    static final int HEADER_BYTES = 32;
    static final int HEADER_CRC = 24;
    static final int TABLE_OFFSET = 32;
    static final int ENTRY_BYTES = 24;
    static final String[] TAGS = {"SHAP", "CONF", "PROT", "HEAD", "WIND", "PAGE"};
    static final int SECTIONS = TAGS.length;
    static final int SHAP = 0, CONF = 1, PROT = 2, HEAD = 3, WIND = 4, PAGE = 5;
    /** Bytes of the table with its CRC and padding: where the first section starts. */
    static final int TABLE_BYTES = SECTIONS * ENTRY_BYTES + 8;
    static final int SHAPE_BYTES = 28;
    static final int LAYER_CONFIG_BYTES = 104;
    static final int LAYER_RECORD_BYTES = 16;
    static final int PAGE_ALIGN = 4096;

    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Bytes of a head record with {@code pages} pages. */
    static long headRecordBytes(int headDim, int pages) {
        return 16L + 10L * headDim + 8L * pages;
    }

    /** Where a section of {@code length} bytes after one ending at {@code end} starts. */
    static long align(long end, long alignment) {
        return (end + alignment - 1) / alignment * alignment;
    }

    /** Offset of entry {@code i} of the section table. */
    static long entry(int i) {
        return TABLE_OFFSET + (long) i * ENTRY_BYTES;
    }

    /**
     * The PAGE section's checksum from its pages' own CRC32Cs: the CRC32C of them as little-endian
     * u32s in page order.
     */
    static int pagesCrc(int[] pageCrcs) {
        CRC32C crc = new CRC32C();
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        for (int c : pageCrcs) {
            b.clear();
            crc.update(b.putInt(0, c));
        }
        return (int) crc.getValue();
    }

    /** CRC32C of {@code length} bytes of {@code seg} from {@code offset}, without copying them. */
    static int crc(MemorySegment seg, long offset, long length) {
        CRC32C crc = new CRC32C();
        long done = 0;
        while (done < length) {
            long n = Math.min(length - done, 1L << 30);
            crc.update(seg.asSlice(offset + done, n).asByteBuffer());
            done += n;
        }
        return (int) crc.getValue();
    }
}
