package io.vidkv.codec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Little-endian bit strings in a block (bit i of a string at byte {@code o} is bit {@code i % 8} of
 * byte {@code o + i / 8}, see {@code io.vidkv.layout}): the one packing piece every encoder uses to
 * write codes, and the plain reader the dequantizers use.
 */
final class BitStrings {

    private BitStrings() {
    }

    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG_LE = LONG.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /**
     * Writes fields[from + i], i &lt; count, each {@code width} (&lt;= 8) bits wide, as a bit string
     * (field i at bits [i width, (i + 1) width), LSB first) into dst from byte {@code at}: every byte of
     * the string's ceil(count width / 8) is written once, a byte whenever eight bits are pending (the
     * ternary codecs' base-3 tails).
     */
    static void packFields(int[] fields, int from, int count, int width, byte[] dst, int at) {
        long pending = 0;
        int pendingBits = 0;
        for (int i = 0; i < count; i++) {
            pending |= (long) fields[from + i] << pendingBits;
            pendingBits += width;
            if (pendingBits >= 8) {
                dst[at++] = (byte) pending;
                pending >>>= 8;
                pendingBits -= 8;
            }
        }
        if (pendingBits > 0) {
            dst[at] = (byte) pending;
        }
    }

    /** Zeroes {@code bytes} bytes at {@code off} (no slice: the append path allocates nothing). */
    static void clear(MemorySegment dst, long off, long bytes) {
        long i = 0;
        for (; i + 8 <= bytes; i += 8) {
            dst.set(LONG, off + i, 0L);
        }
        for (; i < bytes; i++) {
            dst.set(ValueLayout.JAVA_BYTE, off + i, (byte) 0);
        }
    }

    /** Sets bit {@code i} of the string at {@code off} if {@code bit} is 1 (the string starts cleared). */
    static void set(MemorySegment dst, long off, long i, int bit) {
        if (bit != 0) {
            long at = off + (i >>> 3);
            dst.set(ValueLayout.JAVA_BYTE, at, (byte) (dst.get(ValueLayout.JAVA_BYTE, at) | 1 << (i & 7)));
        }
    }

    /** Bit {@code i} of the string at {@code off}. */
    static int get(MemorySegment src, long off, long i) {
        return src.get(ValueLayout.JAVA_BYTE, off + (i >>> 3)) >>> (i & 7) & 1;
    }

    /** A bit row of {@code bits} <= 64 bits (bits % 8 == 0) at {@code off}, as a long (bit t = token t). */
    static long word(MemorySegment src, long off, int bits) {
        long w = 0;
        for (int i = 0; i < bits / 8; i++) {
            w |= (long) (src.get(ValueLayout.JAVA_BYTE, off + i) & 0xFF) << (8 * i);
        }
        return w;
    }

    /** Writes a bit row of {@code bits} <= 64 bits (bits % 8 == 0) at {@code off}: the inverse of {@link #word}. */
    static void setWord(MemorySegment dst, long off, int bits, long w) {
        if (bits == 32) { // the common G: one store (the string is little-endian, as the layout says)
            dst.set(INT_LE, off, (int) w);
            return;
        }
        if (bits == 64) {
            dst.set(LONG_LE, off, w);
            return;
        }
        for (int i = 0; i < bits / 8; i++) {
            dst.set(ValueLayout.JAVA_BYTE, off + i, (byte) (w >>> (8 * i)));
        }
    }

    /**
     * Bits [0, n) of the string at {@code off} into bits[0 .. n) as 0 or 1, eight bits a byte read
     * (the dequantizers' bulk read).
     */
    static void unpack(MemorySegment src, long off, int n, int[] bits, int bitsOff) {
        for (int i = 0; i < n; i += 8) {
            int b = src.get(ValueLayout.JAVA_BYTE, off + (i >>> 3));
            for (int k = 0; k < 8 && i + k < n; k++) {
                bits[bitsOff + i + k] = b >>> k & 1;
            }
        }
    }

    /** Writes {@code width} (< 32) bits of {@code value} at bit {@code i} of the string at {@code off}. */
    static void setField(MemorySegment dst, long off, long i, int width, int value) {
        for (int k = 0; k < width; k++) {
            set(dst, off, i + k, value >>> k & 1);
        }
    }

    /** Reads {@code width} (< 32) bits at bit {@code i} of the string at {@code off}. */
    static int getField(MemorySegment src, long off, long i, int width) {
        // the bytes the field spans (up to five), a byte at a time rather than a bit at a time, and
        // never a byte beyond them (the string may end at the segment's last byte)
        long at = off + (i >>> 3);
        int shift = (int) (i & 7);
        int bytes = (shift + width + 7) >>> 3;
        long v = 0;
        for (int k = 0; k < bytes; k++) {
            v |= (long) (src.get(ValueLayout.JAVA_BYTE, at + k) & 0xFF) << (8 * k);
        }
        return (int) (v >>> shift) & (int) ((1L << width) - 1);
    }
}
