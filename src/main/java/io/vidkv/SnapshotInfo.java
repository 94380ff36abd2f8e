package io.vidkv;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a snapshot file holds, read with every check {@link KvCache#openSnapshot} makes (all
 * checksums verified) but without restoring a sequence: for {@code vidkv snapshot --inspect} and
 * for a serving engine that wants to know which model and configuration a file is for.
 *
 * @param file      the file
 * @param version   the format version ({@code SnapshotFormat}, README "Snapshots")
 * @param fileBytes the file's length
 * @param shape     the model shape the file is for
 * @param config    the saved sequence's configuration: layers, page size and capacity
 * @param layers    per layer: tokens appended, quantized and evicted
 * @param pages     pages in the PAGE section
 * @param sections  the sections in file order, with their verified checksums
 */
public record SnapshotInfo(Path file, int version, long fileBytes, ModelShape shape, CacheConfig config,
                           List<Layer> layers, int pages, List<Section> sections) {

    /**
     * One layer's token counts.
     *
     * @param layer     the layer index
     * @param tokens    tokens appended (the next position)
     * @param quantized tokens quantized into blocks (evicted ones included)
     * @param evicted   tokens evicted (the first retained position)
     */
    public record Layer(int layer, int tokens, int quantized, int evicted) {
    }

    /**
     * One section.
     *
     * @param tag    its tag ({@code SHAP}, {@code CONF}, {@code PROT}, {@code HEAD}, {@code WIND}, {@code PAGE})
     * @param offset its offset in the file
     * @param length its length in bytes
     * @param crc32c its CRC32C, as verified
     */
    public record Section(String tag, long offset, long length, int crc32c) {
    }

    /**
     * Reads and checks {@code file}.
     *
     * @param file a snapshot file
     * @return what it holds
     * @throws IOException             if it cannot be read
     * @throws SnapshotFormatException if it is not a valid snapshot (as for {@link KvCache#openSnapshot},
     *                                 without the comparison against an expected shape)
     */
    public static SnapshotInfo inspect(Path file) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            SnapshotReader r = SnapshotReader.parse(file, arena);
            r.check(r.savedConfig);
            List<Layer> layers = new ArrayList<>();
            for (int l = 0; l < r.layers.length; l++) {
                SnapshotReader.LayerPlan lp = r.layers[l];
                layers.add(new Layer(l, lp.tokens(), lp.quantized(), lp.evicted()));
            }
            List<Section> sections = new ArrayList<>();
            for (SnapshotReader.Section s : r.sections) {
                sections.add(new Section(s.tag(), s.offset(), s.length(), s.crc()));
            }
            return new SnapshotInfo(file, r.version, r.map.byteSize(), r.shape, r.savedConfig, List.copyOf(layers),
                    r.totalPages, List.copyOf(sections));
        }
    }
}
