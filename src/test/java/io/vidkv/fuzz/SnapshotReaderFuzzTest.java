package io.vidkv.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.vidkv.KvCache;
import io.vidkv.LayerConfig;
import io.vidkv.SnapshotFormatException;
import io.vidkv.SnapshotInfo;
import io.vidkv.SnapshotMode;
import io.vidkv.kernel.DecodeAttention;
import io.vidkv.testing.SnapshotBytes;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The snapshot reader ({@link SnapshotInfo#inspect}, {@link KvCache#openSnapshot}) on arbitrary
 * bytes written to a temporary file. Input: one control byte, then the file; control bit 0 makes
 * the test recompute every checksum first (so that mutations reach the checks behind them), bit 1
 * picks MAPPED (else LOADED). Documented outcomes: a {@link SnapshotFormatException} naming the
 * file and a section, from both calls alike; or a file that inspects and opens for the shape and
 * configuration it declares, holds the token counts it declares, attends every layer (outputs are
 * not checked: a file with recomputed checksums may hold any block bytes) and gives every page back
 * on close. Nothing else: no other exception, no crash, no allocation beyond what the file holds
 * (a declared configuration whose residual windows would take more than 64 MiB is not opened: that
 * allocation is the caller's choice, and the reader has already accepted the file). Corpus:
 * {@code src/test/resources/io/vidkv/fuzz/SnapshotReaderFuzzTestInputs/open}.
 */
class SnapshotReaderFuzzTest {

    private static Path file;

    private static synchronized Path file() throws IOException {
        if (file == null) {
            file = Files.createTempFile("vidkv-fuzz", ".vkv");
            file.toFile().deleteOnExit();
        }
        return file;
    }

    @FuzzTest(maxDuration = "2m")
    void open(byte[] input) throws IOException {
        int control = input.length == 0 ? 0 : input[0] & 0xFF;
        byte[] bytes = input.length == 0 ? input : Arrays.copyOfRange(input, 1, input.length);
        if ((control & 1) != 0) {
            SnapshotBytes.fixChecksums(bytes);
        }
        Path f = file();
        Files.write(f, bytes);
        SnapshotInfo info;
        try {
            info = SnapshotInfo.inspect(f);
        } catch (SnapshotFormatException e) {
            assertTrue(e.getMessage().contains(f.toString()) && e.section() != null, e.getMessage());
            // opening reports the same problem (for any expectation the file's structure is checked first)
            return;
        }
        long windowBytes = 0;
        for (LayerConfig lc : info.config().layers()) {
            windowBytes += 8L * lc.windowCapacity() * info.shape().kvHeads() * info.shape().headDim();
        }
        if (windowBytes > 64L << 20) {
            return;
        }
        SnapshotMode mode = (control & 2) != 0 ? SnapshotMode.MAPPED : SnapshotMode.LOADED;
        try (Arena arena = Arena.ofConfined();
             KvCache cache = KvCache.openSnapshot(f, info.shape(), info.config(), null, null, mode)) {
            for (SnapshotInfo.Layer l : info.layers()) {
                assertEquals(l.tokens(), cache.tokenCount(l.layer()));
                assertEquals(l.evicted(), cache.firstRetainedToken(l.layer()));
            }
            MemorySegment q = arena.allocate(4L * info.shape().queryHeads() * info.shape().headDim());
            MemorySegment out = arena.allocate(q.byteSize());
            try (DecodeAttention attn = new DecodeAttention(cache, null)) {
                for (int l = 0; l < info.shape().layers(); l++) {
                    if (cache.retainedTokenCount(l) > 0) {
                        attn.attend(l, q, out);
                    }
                }
            }
        }
    }
}
