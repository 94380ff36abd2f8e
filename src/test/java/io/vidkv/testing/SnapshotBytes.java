package io.vidkv.testing;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * Snapshot files as bytes, written from the format's documentation (README "Snapshots"), not from
 * the library's code: {@link #fixChecksums} recomputes the header, table and section CRCs after a
 * test (or the fuzzer) changed a field, so that the reader's checks behind the checksums are reached.
 */
public final class SnapshotBytes {

    public static final int SECTIONS = 6;

    private SnapshotBytes() {
    }

    public static ByteBuffer le(byte[] file) {
        return ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Offset of section i (0 SHAP, 1 CONF, 2 PROT, 3 HEAD, 4 WIND, 5 PAGE) from the table. */
    public static long sectionOffset(byte[] file, int i) {
        return le(file).getLong(32 + 24 * i + 8);
    }

    public static long sectionLength(byte[] file, int i) {
        return le(file).getLong(32 + 24 * i + 16);
    }

    private static int crc(byte[] b, long off, long len) {
        CRC32C c = new CRC32C();
        c.update(b, (int) off, (int) len);
        return (int) c.getValue();
    }

    /** PAGE's checksum: the CRC32C of its pages' CRC32Cs as little-endian u32s (0 if the page size does not fit). */
    private static int pagesCrc(byte[] file, long off, long len) {
        long shap = sectionOffset(file, 0);
        if (shap < 0 || shap > file.length - 20) {
            return 0;
        }
        int pageBytes = le(file).getInt((int) shap + 16);
        if (pageBytes < 4096 || len % pageBytes != 0) {
            return 0;
        }
        ByteBuffer crcs = ByteBuffer.allocate((int) (len / pageBytes) * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (long p = 0; p < len; p += pageBytes) {
            crcs.putInt(crc(file, off + p, pageBytes));
        }
        return crc(crcs.array(), 0, crcs.capacity());
    }

    /** Recomputes every CRC whose range lies inside the file; leaves the rest as it is. */
    public static void fixChecksums(byte[] file) {
        if (file.length < 32) {
            return;
        }
        ByteBuffer b = le(file);
        if (file.length >= 32 + 24 * SECTIONS + 8) {
            for (int i = 0; i < SECTIONS; i++) {
                long off = sectionOffset(file, i), len = sectionLength(file, i);
                if (off >= 0 && len >= 0 && off <= file.length && len <= file.length - off) {
                    b.putInt(32 + 24 * i + 4, i == 5 ? pagesCrc(file, off, len) : crc(file, off, len));
                }
            }
            b.putInt(32 + 24 * SECTIONS, crc(file, 32, 24 * SECTIONS));
        }
        b.putInt(24, crc(file, 0, 24));
    }
}
