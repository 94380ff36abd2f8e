package io.vidkv.codec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Bit-plane packing of the reference mode's codecs (the others use the layouts of
 * {@code io.vidkv.layout}). A k-bit code is stored as k planes of single bits, eight
 * consecutive codes per byte (bit i of a byte = code i of the eight), in one of two orientations:
 *
 * <ul>
 *   <li><b>row-major over tokens</b> (keys): for each plane b and row r (a channel or a spectral
 *       component), the group's G tokens as G/8 bytes at {@code ((b * rows + r) * G/8)}. The decode
 *       kernel expands a row to G floats with tokens in vector lanes, which is what the score loop
 *       (one query scalar times G keys) consumes;
 *   <li><b>token-major over channels</b> (values): for each token t and plane b, its d channels as
 *       d/8 bytes at {@code ((t * bits + b) * d/8)}; the value loop (one weight times d channels)
 *       consumes a token's channels in vector lanes.
 * </ul>
 * {@link #BIT_LUT} turns one byte into its eight bits as floats, so unpacking is one table load
 * per eight codes per plane.
 */
public final class CodePlanes {

    /** {@code BIT_LUT[b * 8 + i]} = bit i of byte b, as 0f or 1f. */
    static final float[] BIT_LUT = new float[256 * 8];

    static {
        for (int b = 0; b < 256; b++) {
            for (int i = 0; i < 8; i++) {
                BIT_LUT[b * 8 + i] = (b >>> i) & 1;
            }
        }
    }

    private CodePlanes() {
    }

    /** Bytes of {@code bits} planes of {@code rows} x {@code cols} codes. */
    public static int bytes(int bits, int rows, int cols) {
        return bits * rows * (cols / 8);
    }

    /**
     * Packs codes[r * cols + c] (each in 0 .. 2^bits-1) as planes: byte for (plane b, row r, column
     * byte j) at {@code off + (b * rows + r) * cols/8 + j} when {@code planeOuter}, else at
     * {@code off + (r * bits + b) * cols/8 + j}.
     */
    public static void pack(int[] codes, int rows, int cols, int bits, boolean planeOuter, MemorySegment dst, long off) {
        int bytesPerRow = cols / 8;
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < bits; b++) {
                long base = off + (long) (planeOuter ? b * rows + r : r * bits + b) * bytesPerRow;
                for (int j = 0; j < bytesPerRow; j++) {
                    int v = 0;
                    int c0 = r * cols + j * 8;
                    for (int i = 0; i < 8; i++) {
                        v |= ((codes[c0 + i] >>> b) & 1) << i;
                    }
                    dst.set(ValueLayout.JAVA_BYTE, base + j, (byte) v);
                }
            }
        }
    }

    /** Inverse of {@link #pack}: codes as floats (0 .. 2^bits-1) into out[r * cols + c]. */
    public static void unpack(MemorySegment src, long off, int rows, int cols, int bits, boolean planeOuter,
                              float[] out, int outOff) {
        int bytesPerRow = cols / 8;
        for (int r = 0; r < rows; r++) {
            int o = outOff + r * cols;
            java.util.Arrays.fill(out, o, o + cols, 0f);
            for (int b = 0; b < bits; b++) {
                long base = off + (long) (planeOuter ? b * rows + r : r * bits + b) * bytesPerRow;
                float w = 1 << b;
                for (int j = 0; j < bytesPerRow; j++) {
                    int lut = (src.get(ValueLayout.JAVA_BYTE, base + j) & 0xFF) * 8;
                    int oj = o + j * 8;
                    for (int i = 0; i < 8; i++) {
                        out[oj + i] += w * BIT_LUT[lut + i];
                    }
                }
            }
        }
    }
}
