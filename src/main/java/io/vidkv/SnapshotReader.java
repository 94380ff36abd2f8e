package io.vidkv;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

import static io.vidkv.SnapshotFormat.F32;
import static io.vidkv.SnapshotFormat.F64;
import static io.vidkv.SnapshotFormat.U16;
import static io.vidkv.SnapshotFormat.U32;
import static io.vidkv.SnapshotFormat.U64;

/**
 * Reads and checks a {@link SnapshotFormat} file. The file is mapped read-only and every check runs
 * on the mapping (nothing is copied to the heap, and nothing whose size the file declares is
 * allocated before that size has been checked against the file's real length and the caller's
 * configuration). {@link #open} checks the structure ({@link #parse}), then the contents against
 * the caller's shape and configuration ({@link #check}); every problem is one
 * {@link SnapshotFormatException} naming the file and the section. {@link SnapshotRestore} then
 * builds the sequence from the checked file.
 */
final class SnapshotReader {

    /** A section's place in the file. */
    record Section(String tag, long offset, long length, int crc) {
    }

    /** Where one head's record and window are, and its counts (all checked). */
    record HeadPlan(long record, long window, int windowTokens, int pages, int evictedBlocks, boolean calibrated) {
    }

    /** One layer's counts (checked) and its heads. */
    record LayerPlan(int tokens, int quantized, int evicted, boolean calibrated, HeadPlan[] heads) {
    }

    final Path file;
    final MemorySegment map;
    final int version;
    final List<Section> sections;
    final ModelShape shape;
    final CacheConfig savedConfig;
    /** Filled by {@link #check}. */
    LayerPlan[] layers;
    int totalPages;

    private SnapshotReader(Path file, MemorySegment map, int version, List<Section> sections, ModelShape shape,
                           CacheConfig savedConfig) {
        this.file = file;
        this.map = map;
        this.version = version;
        this.sections = sections;
        this.shape = shape;
        this.savedConfig = savedConfig;
    }

    private SnapshotFormatException bad(String section, String problem) {
        return new SnapshotFormatException(file, section, problem);
    }

    private static SnapshotFormatException bad(Path file, String section, String problem) {
        return new SnapshotFormatException(file, section, problem);
    }

    /**
     * Maps {@code file} into {@code arena} and checks the header, the table, every section's CRC,
     * the shape and the layer configurations (the sections every later check depends on).
     */
    static SnapshotReader parse(Path file, Arena arena) throws IOException {
        return parse(file, arena, null);
    }

    /** As {@link #parse(Path, Arena)}; {@code runner} (may be null) verifies the pages in parallel. */
    static SnapshotReader parse(Path file, Arena arena, ParallelRunner runner) throws IOException {
        MemorySegment m;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < SnapshotFormat.HEADER_BYTES) {
                throw bad(file, "header", "truncated: the file is " + size + " bytes, a header alone is "
                        + SnapshotFormat.HEADER_BYTES);
            }
            m = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        }
        long size = m.byteSize();
        for (int i = 0; i < SnapshotFormat.MAGIC.length; i++) {
            if (m.get(ValueLayout.JAVA_BYTE, i) != SnapshotFormat.MAGIC[i]) {
                throw bad(file, "header", "not a vidkv snapshot: the magic is not \"VIDKVSNP\"");
            }
        }
        int version = m.get(U32, 8);
        if (version < SnapshotFormat.OLDEST_VERSION || version > SnapshotFormat.VERSION) {
            throw bad(file, "header", "format version " + Integer.toUnsignedString(version) + ", this reader reads versions "
                    + SnapshotFormat.OLDEST_VERSION + " to " + SnapshotFormat.VERSION);
        }
        if (m.get(U32, SnapshotFormat.HEADER_CRC) != SnapshotFormat.crc(m, 0, SnapshotFormat.HEADER_CRC)
                || m.get(U32, 28) != 0) {
            throw bad(file, "header", "checksum mismatch (the header is corrupted)");
        }
        int count = m.get(U32, 12);
        if (count != SnapshotFormat.SECTIONS) {
            throw bad(file, "header", "declares " + Integer.toUnsignedString(count) + " sections, version 1 has "
                    + SnapshotFormat.SECTIONS);
        }
        long declared = m.get(U64, 16);
        if (declared != size) {
            throw bad(file, "header", (Long.compareUnsigned(declared, size) > 0 ? "truncated" : "extended")
                    + ": the header declares " + Long.toUnsignedString(declared) + " bytes, the file has " + size);
        }
        long tableEnd = SnapshotFormat.TABLE_OFFSET + SnapshotFormat.TABLE_BYTES;
        if (size < tableEnd) {
            throw bad(file, "table", "truncated: the file ends at " + size + ", the section table at " + tableEnd);
        }
        long crcAt = SnapshotFormat.entry(SnapshotFormat.SECTIONS);
        if (m.get(U32, crcAt) != SnapshotFormat.crc(m, SnapshotFormat.TABLE_OFFSET, crcAt - SnapshotFormat.TABLE_OFFSET)
                || m.get(U32, crcAt + 4) != 0) {
            throw bad(file, "table", "checksum mismatch (the section table is corrupted)");
        }
        List<Section> sections = new ArrayList<>();
        long end = tableEnd;
        for (int i = 0; i < SnapshotFormat.SECTIONS; i++) {
            long e = SnapshotFormat.entry(i);
            String tag = new String(m.asSlice(e, 4).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII);
            long offset = m.get(U64, e + 8), length = m.get(U64, e + 16);
            String want = SnapshotFormat.TAGS[i];
            if (!tag.equals(want)) {
                throw bad(file, "table", "entry " + i + " is \"" + tag + "\", expected " + want);
            }
            long align = i == SnapshotFormat.PAGE ? SnapshotFormat.PAGE_ALIGN : 8;
            if (offset < 0 || length < 0 || offset != SnapshotFormat.align(end, align) || length > size - offset) {
                throw bad(file, want, "declares offset " + Long.toUnsignedString(offset) + " and length "
                        + Long.toUnsignedString(length) + ": expected offset " + SnapshotFormat.align(end, align)
                        + " and an end within the file's " + size + " bytes");
            }
            for (long z = end; z < offset; z++) {
                if (m.get(ValueLayout.JAVA_BYTE, z) != 0) {
                    throw bad(file, want, "the padding before the section at byte " + z + " is not zero (corrupted)");
                }
            }
            sections.add(new Section(tag, offset, length, m.get(U32, e + 4)));
            end = offset + length;
        }
        if (end != size) {
            throw bad(file, "PAGE", "the last section ends at " + end + ", the file at " + size);
        }
        if (sections.get(SnapshotFormat.SHAP).length != SnapshotFormat.SHAPE_BYTES) {
            throw bad(file, "SHAP", "is " + sections.get(SnapshotFormat.SHAP).length + " bytes, expected "
                    + SnapshotFormat.SHAPE_BYTES);
        }
        int pageBytes = m.get(U32, sections.get(SnapshotFormat.SHAP).offset + 16);
        for (Section s : sections) {
            int crc;
            if (s.tag.equals("PAGE")) {
                if (pageBytes < 4096 || s.length % pageBytes != 0) {
                    throw bad(file, "PAGE", "is " + s.length + " bytes, not a whole number of " + Integer.toUnsignedString(pageBytes)
                            + "-byte pages (the page size SHAP declares, at least 4096)");
                }
                crc = pagesCrc(m, s.offset, (int) (s.length / pageBytes), pageBytes, runner);
            } else {
                crc = sectionCrc(m, s.offset, s.length, runner);
            }
            if (crc != s.crc) {
                throw bad(file, s.tag, "checksum mismatch (the section's " + s.length + " bytes are corrupted)");
            }
        }
        Section shap = sections.get(SnapshotFormat.SHAP);
        long o = shap.offset;
        ModelShape shape;
        CapacityPolicy capacity;
        try {
            shape = new ModelShape(m.get(U32, o), m.get(U32, o + 4), m.get(U32, o + 8), m.get(U32, o + 12));
            capacity = new CapacityPolicy(m.get(U32, o + 20), enumAt(CapacityPolicy.OnFull.values(), m.get(U32, o + 24),
                    "capacity policy"));
        } catch (IllegalArgumentException e) {
            throw bad(file, "SHAP", e.getMessage());
        }
        if (pageBytes < 4096) {
            throw bad(file, "SHAP", "page size " + pageBytes + ", at least 4096 expected");
        }
        Section conf = sections.get(SnapshotFormat.CONF);
        if (conf.length != (long) shape.layers() * SnapshotFormat.LAYER_CONFIG_BYTES) {
            throw bad(file, "CONF", "is " + conf.length + " bytes, " + shape.layers() + " layers take "
                    + (long) shape.layers() * SnapshotFormat.LAYER_CONFIG_BYTES);
        }
        List<LayerConfig> configs = new ArrayList<>(shape.layers());
        for (int l = 0; l < shape.layers(); l++) {
            try {
                configs.add(layerConfig(m, conf.offset + (long) l * SnapshotFormat.LAYER_CONFIG_BYTES));
            } catch (IllegalArgumentException e) {
                throw bad(file, "CONF", "layer " + l + ": " + e.getMessage());
            }
            int tokenScaleBits = configs.get(l).values().tokenScaleBits();
            if (version == 1 && tokenScaleBits != 0) {
                throw bad(file, "CONF", "layer " + l + ": " + tokenScaleBits + "-bit token scales in a version-1 file, whose "
                        + "blocks lack the step byte of version 2; save the sequence again with this version");
            }
        }
        return new SnapshotReader(file, m, version, List.copyOf(sections), shape,
                new CacheConfig(configs, pageBytes, capacity));
    }

    /** The PAGE checksum: every page's CRC32C (in parallel on {@code runner} if given), then theirs. */
    private static int pagesCrc(MemorySegment m, long at, int pages, int pageBytes, ParallelRunner runner) {
        int[] crcs = new int[pages]; // pages <= the file's length / 4096: bounded by the real file
        int chunks = runner == null || !runner.canAccess(m) ? 1 : Math.min(pages, 8 * runner.threads());
        ParallelRunner.Task task = (chunk, worker) -> {
            for (int i = (int) ((long) pages * chunk / chunks); i < (int) ((long) pages * (chunk + 1) / chunks); i++) {
                crcs[i] = SnapshotFormat.crc(m, at + (long) i * pageBytes, pageBytes);
            }
        };
        if (chunks <= 1 || !runner.tryRun(chunks, task)) {
            for (int c = 0; c < Math.max(1, chunks); c++) {
                task.run(c, 0);
            }
        }
        return SnapshotFormat.pagesCrc(crcs);
    }

    /**
     * CRC32C of a section: a long one (the windows) in pieces on {@code runner} if given, the pieces'
     * CRCs combined ({@link Crc32cCombine}), so it is still the CRC32C of the section's bytes.
     */
    private static int sectionCrc(MemorySegment m, long at, long length, ParallelRunner runner) {
        int pieces = runner == null || length < (1 << 20) || !runner.canAccess(m) ? 1 : 8 * runner.threads();
        if (pieces == 1) {
            return SnapshotFormat.crc(m, at, length);
        }
        int[] crcs = new int[pieces];
        ParallelRunner.Task task = (i, worker) -> {
            long from = length * i / pieces, to = length * (i + 1) / pieces;
            crcs[i] = SnapshotFormat.crc(m, at + from, to - from);
        };
        if (!runner.tryRun(pieces, task)) {
            for (int i = 0; i < pieces; i++) {
                task.run(i, 0);
            }
        }
        int crc = crcs[0];
        for (int i = 1; i < pieces; i++) {
            crc = Crc32cCombine.combine(crc, crcs[i], length * (i + 1) / pieces - length * i / pieces);
        }
        return crc;
    }

    private static <E extends Enum<E>> E enumAt(E[] values, int ordinal, String what) {
        if (ordinal < 0 || ordinal >= values.length) {
            throw new IllegalArgumentException(what + " " + Integer.toUnsignedString(ordinal) + " is not one of 0.."
                    + (values.length - 1));
        }
        return values[ordinal];
    }

    private static boolean flag(MemorySegment m, long at, String what) {
        int v = m.get(U32, at);
        if (v != 0 && v != 1) {
            throw new IllegalArgumentException(what + " is " + Integer.toUnsignedString(v) + ", expected 0 or 1");
        }
        return v == 1;
    }

    private static LayerConfig layerConfig(MemorySegment m, long o) {
        if (m.get(U32, o + 28) != 0) {
            throw new IllegalArgumentException("reserved bytes are not zero");
        }
        KeySpec keys = new KeySpec(enumAt(KeySpec.Kind.values(), m.get(U32, o), "key kind"), m.get(U32, o + 4),
                enumAt(QuantAxis.values(), m.get(U32, o + 8), "key axis"),
                m.get(F64, o + 32), enumAt(SplitMetric.values(), m.get(U32, o + 12), "split metric"),
                flag(m, o + 16, "spectral"), flag(m, o + 20, "splitPerGroup"),
                enumAt(ParameterFit.values(), m.get(U32, o + 24), "key fit"));
        ValueSpec values = new ValueSpec(enumAt(ValueSpec.Kind.values(), m.get(U32, o + 40), "value kind"), m.get(U32, o + 44),
                enumAt(QuantAxis.values(), m.get(U32, o + 48), "value axis"), m.get(F64, o + 72),
                enumAt(TernaryPacking.values(), m.get(U32, o + 52), "ternary packing"), flag(m, o + 56, "protection"),
                m.get(F64, o + 80), enumAt(TernaryThreshold.values(), m.get(U32, o + 60), "ternary threshold"),
                enumAt(ParameterFit.values(), m.get(U32, o + 64), "value fit"), m.get(U32, o + 68));
        return new LayerConfig(keys, values, m.get(U32, o + 88), m.get(U32, o + 92), m.get(U32, o + 96),
                enumAt(MetadataFormat.values(), m.get(U32, o + 100), "metadata format"));
    }

    /** The file's shape and layer configurations against the caller's. */
    void expect(ModelShape expectedShape, CacheConfig expected) {
        if (!shape.equals(expectedShape)) {
            throw bad("SHAP", "the file is for " + shape + ", the caller expects " + expectedShape);
        }
        if (savedConfig.pageBytes() != expected.pageBytes()) {
            throw bad("SHAP", "the file has pages of " + savedConfig.pageBytes() + " bytes, the caller's configuration "
                    + expected.pageBytes());
        }
        if (expected.layers().size() != shape.layers()) {
            throw bad("CONF", "the caller's configuration has " + expected.layers().size() + " layers, the file "
                    + shape.layers());
        }
        for (int l = 0; l < shape.layers(); l++) {
            if (!savedConfig.layer(l).equals(expected.layer(l))) {
                throw bad("CONF", "layer " + l + ": the file has " + savedConfig.layer(l) + ", the caller expects "
                        + expected.layer(l));
            }
        }
    }

    /**
     * Checks PROT, HEAD, WIND and PAGE against {@code config} (the caller's: its capacity bounds the
     * block directories and the protected positions) and records where each head's data is.
     */
    void check(CacheConfig config) {
        check(config, null);
    }

    /** One head's window, checked after the walk over HEAD (in parallel when a runner is given). */
    private record WindowCheck(long at, long floats, LayerConfig config, String where) {
    }

    /** As {@link #check(CacheConfig)}; {@code runner} (may be null) checks the windows' values in parallel. */
    void check(CacheConfig config, ParallelRunner runner) {
        List<WindowCheck> windows = new ArrayList<>();
        int d = shape.headDim();
        int maxTokens = config.capacity().maxTokens();
        Section prot = sections.get(SnapshotFormat.PROT);
        long words = (savedConfig.capacity().maxTokens() + 63L) / 64;
        if (prot.length != 8 + 8 * words || map.get(U32, prot.offset) != words || map.get(U32, prot.offset + 4) != 0) {
            throw bad("PROT", "is " + prot.length + " bytes with " + Integer.toUnsignedString(map.get(U32, prot.offset))
                    + " words, a capacity of " + savedConfig.capacity().maxTokens() + " tokens takes " + words + " words");
        }
        for (long w = 0; w < words; w++) {
            long bits = map.get(U64, prot.offset + 8 + 8 * w);
            if (bits != 0) {
                long highest = w * 64 + 63 - Long.numberOfLeadingZeros(bits);
                if (highest >= savedConfig.capacity().maxTokens() || highest >= maxTokens) {
                    throw bad("PROT", "token " + highest + " is protected, positions below "
                            + Math.min(maxTokens, savedConfig.capacity().maxTokens()) + " can be (the capacity)");
                }
            }
        }
        Section page = sections.get(SnapshotFormat.PAGE);
        int pageBytes = savedConfig.pageBytes();
        if (page.length % pageBytes != 0 || page.length / pageBytes > Integer.MAX_VALUE - 8) {
            throw bad("PAGE", "is " + page.length + " bytes, not a whole number of " + pageBytes + "-byte pages");
        }
        totalPages = (int) (page.length / pageBytes);
        java.util.BitSet used = new java.util.BitSet(); // grows with the pages actually listed
        Section head = sections.get(SnapshotFormat.HEAD);
        long at = head.offset, headEnd = head.offset + head.length;
        Section wind = sections.get(SnapshotFormat.WIND);
        long window = wind.offset, windowEnd = wind.offset + wind.length;
        layers = new LayerPlan[shape.layers()];
        for (int l = 0; l < shape.layers(); l++) {
            LayerConfig lc = savedConfig.layer(l);
            int g = lc.groupSize();
            io.vidkv.codec.KeyCodec keyCodec;
            io.vidkv.codec.ValueCodec valueCodec;
            try { // block sizes come from the codecs, as in LayerStore
                keyCodec = io.vidkv.codec.Codecs.keys(lc, d);
                valueCodec = io.vidkv.codec.Codecs.values(lc, d);
            } catch (IllegalArgumentException e) {
                throw bad("CONF", "layer " + l + ": " + e.getMessage());
            }
            if (keyCodec.blockBytes() + valueCodec.blockBytes(g) > pageBytes) {
                throw bad("CONF", "layer " + l + ": a block of up to " + (keyCodec.blockBytes() + valueCodec.blockBytes(g))
                        + " bytes does not fit a page of " + pageBytes);
            }
            if (headEnd - at < SnapshotFormat.LAYER_RECORD_BYTES) {
                throw bad("HEAD", "layer " + l + ": the section ends before the layer's record");
            }
            int tokens = map.get(U32, at), quantized = map.get(U32, at + 4), evicted = map.get(U32, at + 8);
            boolean calibrated;
            try {
                calibrated = flag(map, at + 12, "calibrated");
            } catch (IllegalArgumentException e) {
                throw bad("HEAD", "layer " + l + ": " + e.getMessage());
            }
            at += SnapshotFormat.LAYER_RECORD_BYTES;
            if (tokens < 0 || quantized < 0 || evicted < 0 || evicted > quantized || quantized > tokens
                    || quantized % g != 0 || evicted % g != 0) {
                throw bad("HEAD", "layer " + l + ": token counts " + Integer.toUnsignedString(tokens) + " appended, "
                        + Integer.toUnsignedString(quantized) + " quantized, " + Integer.toUnsignedString(evicted)
                        + " evicted do not fit (0 <= evicted <= quantized <= appended, multiples of G = " + g + ")");
            }
            int windowTokens = tokens - quantized;
            if (windowTokens > lc.windowCapacity()) {
                throw bad("HEAD", "layer " + l + ": " + windowTokens + " tokens in the residual window, it holds at most "
                        + lc.windowCapacity() + " (R + C x G)");
            }
            if (tokens - evicted > maxTokens) {
                throw bad("HEAD", "layer " + l + ": holds " + (tokens - evicted) + " tokens, the caller's capacity is "
                        + maxTokens);
            }
            if (calibrated != (quantized > 0)) {
                throw bad("HEAD", "layer " + l + ": calibrated is " + calibrated + " with " + quantized + " tokens quantized");
            }
            if (calibrated && windowTokens >= lc.residual() + g) { // quantization keeps a calibrated window below R + G
                throw bad("HEAD", "layer " + l + ": " + windowTokens + " tokens in the residual window of a calibrated layer, "
                        + "fewer than R + G = " + (lc.residual() + g) + " expected");
            }
            int blocks = (quantized - evicted) / g;
            int maxBlocks = maxTokens / g + 1; // a HeadStore's block directory
            HeadPlan[] heads = new HeadPlan[shape.kvHeads()];
            for (int h = 0; h < heads.length; h++) {
                String where = "layer " + l + " head " + h + ": ";
                if (headEnd - at < SnapshotFormat.headRecordBytes(d, 0)) {
                    throw bad("HEAD", where + "the section ends before the head's record");
                }
                int n = map.get(U32, at), pages = map.get(U32, at + 4), evictedBlocks = map.get(U32, at + 8);
                boolean headCalibrated;
                try {
                    headCalibrated = flag(map, at + 12, "calibrated");
                } catch (IllegalArgumentException e) {
                    throw bad("HEAD", where + e.getMessage());
                }
                if (n != windowTokens || (long) evictedBlocks * g != evicted || headCalibrated != calibrated) {
                    throw bad("HEAD", where + Integer.toUnsignedString(n) + " window tokens, "
                            + Integer.toUnsignedString(evictedBlocks) + " evicted blocks, calibrated " + headCalibrated
                            + "; the layer says " + windowTokens + ", " + evicted / g + ", " + calibrated);
                }
                if (pages < 0 || pages > blocks || pages > maxBlocks + 1
                        || SnapshotFormat.headRecordBytes(d, pages) > headEnd - at) {
                    throw bad("HEAD", where + Integer.toUnsignedString(pages) + " pages for " + blocks + " blocks"
                            + (SnapshotFormat.headRecordBytes(d, Math.max(0, pages)) > headEnd - at ? " run past the section's end" : ""));
                }
                checkState(at + 16, d, where);
                long entries = at + 16 + 10L * d;
                int blockSum = 0;
                for (int i = 0; i < pages; i++) {
                    int index = map.get(U32, entries + 8L * i), inPage = map.get(U32, entries + 8L * i + 4);
                    if (index < 0 || index >= totalPages || used.get(index)) {
                        throw bad("HEAD", where + "page " + i + " is file page " + Integer.toUnsignedString(index)
                                + (index >= 0 && index < totalPages ? ", listed twice" : ", the file has " + totalPages));
                    }
                    used.set(index);
                    if (inPage <= 0 || inPage > blocks - blockSum) {
                        throw bad("HEAD", where + "page " + i + " declares " + Integer.toUnsignedString(inPage)
                                + " blocks, " + (blocks - blockSum) + " remain of the head's " + blocks);
                    }
                    long bytes = 0;
                    for (int k = 0; k < inPage; k++) {
                        bytes += keyCodec.blockBytes()
                                + valueCodec.blockBytes(savedCount((long) (evictedBlocks + blockSum + k) * g, g));
                    }
                    if (bytes > pageBytes) {
                        throw bad("HEAD", where + "page " + i + ": its " + inPage + " blocks take " + bytes
                                + " bytes, a page has " + pageBytes);
                    }
                    blockSum += inPage;
                }
                if (blockSum != blocks) {
                    throw bad("HEAD", where + "its pages hold " + blockSum + " blocks, the layer's counts give " + blocks);
                }
                long windowBytes = 2L * n * d * Float.BYTES;
                if (windowEnd - window < windowBytes) {
                    throw bad("WIND", where + "the section ends before the head's " + n + " window tokens");
                }
                windows.add(new WindowCheck(window, 2L * n * d, lc, where));
                heads[h] = new HeadPlan(at, window, n, pages, evictedBlocks, headCalibrated);
                at += SnapshotFormat.headRecordBytes(d, pages);
                window += windowBytes;
            }
            if (lc.referenceMode()) {
                for (int h = 1; h < heads.length; h++) { // one split per layer in the reference mode
                    for (int r = 0; r < d; r++) {
                        if (map.get(U16, heads[h].record + 16 + 2L * r) != map.get(U16, heads[0].record + 16 + 2L * r)) {
                            throw bad("HEAD", "layer " + l + " head " + h + ": a reference-mode layer has one channel order");
                        }
                    }
                }
            }
            layers[l] = new LayerPlan(tokens, quantized, evicted, calibrated, heads);
        }
        if (at != headEnd) {
            throw bad("HEAD", "the records end at byte " + (at - head.offset) + " of the section's " + head.length);
        }
        if (window != windowEnd) {
            throw bad("WIND", "the windows end at byte " + (window - wind.offset) + " of the section's " + wind.length);
        }
        if (used.cardinality() != totalPages) {
            throw bad("PAGE", "file page " + used.nextClearBit(0) + " of " + totalPages + " is listed by no head");
        }
        ParallelRunner.Task task = (i, worker) -> {
            WindowCheck w = windows.get(i);
            checkWindow(w.at, w.floats, w.config, w.where);
        };
        if (runner == null || !runner.canAccess(map) || !runner.tryRun(windows.size(), task)) {
            for (int i = 0; i < windows.size(); i++) {
                task.run(i, 0);
            }
        }
    }

    /** The key order is a permutation of [0, d); super-scales finite and positive. */
    private void checkState(long at, int d, String where) {
        java.util.BitSet seen = new java.util.BitSet(d); // d was checked against the shape
        for (int r = 0; r < d; r++) {
            int c = Short.toUnsignedInt(map.get(U16, at + 2L * r));
            if (c >= d || seen.get(c)) {
                throw bad("HEAD", where + "key channel order row " + r + " is channel " + c
                        + (c < d ? ", listed twice" : ", d = " + d) + " (not a permutation)");
            }
            seen.set(c);
        }
        for (long i = 0; i < 2L * d; i++) {
            float s = map.get(F32, at + 2L * d + 4 * i);
            if (!(s > 0) || !Float.isFinite(s)) {
                throw bad("HEAD", where + (i < d ? "key" : "value") + " super-scale " + (i % d) + " is " + s
                        + ", expected finite and positive");
            }
        }
    }

    /**
     * Window values finite, and within FP16 range where the layer stores FP16 (as an append checks).
     * Read in chunks of bulk-copied words (element-wise reads of a mapping are slower), two floats a
     * word, tested on their bits: |x| <= limit (NaN and infinities fail) is (bits & 0x7FFFFFFF) <=
     * bits(limit), and adding 0x7FFFFFFF - bits(limit) to each half sets its top bit exactly when it
     * fails (no carry crosses the halves); only a chunk that fails is read again as floats, to name
     * the element.
     */
    private void checkWindow(long at, long floats, LayerConfig lc, String where) {
        float limit = lc.needsFp16Range() ? 65504f : Float.MAX_VALUE;
        long c = 0x7FFFFFFFL - Float.floatToRawIntBits(limit);
        long add = c | c << 32;
        long words = floats / 2; // keys and values of whole tokens: an even count
        long[] chunk = new long[(int) Math.min(2048, Math.max(1, words))];
        for (long w0 = 0; w0 < words; w0 += chunk.length) {
            int n = (int) Math.min(chunk.length, words - w0);
            MemorySegment.copy(map, U64, at + 8 * w0, chunk, 0, n);
            long over = 0;
            for (int i = 0; i < n; i++) {
                over |= ((chunk[i] & 0x7FFFFFFF7FFFFFFFL) + add) & 0x8000000080000000L;
            }
            if (over != 0) {
                nameBadWindowValue(at, 2 * w0, 2L * n, floats, limit, where);
            }
        }
        if (floats % 2 != 0) {
            nameBadWindowValue(at, floats - 1, 1, floats, limit, where);
        }
    }

    /** Throws for the first window value among [from, from + count) that fails the limit, if any. */
    private void nameBadWindowValue(long at, long from, long count, long floats, float limit, String where) {
        for (long e = from; e < from + count; e++) {
            float x = map.get(F32, at + 4 * e);
            if (!(Math.abs(x) <= limit)) { // NaN compares false: caught too
                throw bad("WIND", where + (e < floats / 2 ? "key" : "value") + " element " + (e % (floats / 2)) + " is "
                        + x + (limit < Float.MAX_VALUE ? ", expected finite and within FP16 range" : ", expected finite"));
            }
        }
    }

    /** Protected tokens among [first, first + count) by the file's PROT words. */
    int savedCount(long first, int count) {
        Section prot = sections.get(SnapshotFormat.PROT);
        long limit = savedConfig.capacity().maxTokens();
        long end = Math.min(first + count, limit);
        int n = 0;
        for (long p = first; p < end; ) { // whole words at a time: a group lies in at most two
            long word = map.get(U64, prot.offset + 8 + 8 * (p >>> 6));
            int from = (int) (p & 63), to = (int) Math.min(64, from + (end - p));
            long mask = (to == 64 ? -1L : (1L << to) - 1) & (-1L << from);
            n += Long.bitCount(word & mask);
            p += to - from;
        }
        return n;
    }

}
