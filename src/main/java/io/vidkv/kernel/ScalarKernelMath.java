package io.vidkv.kernel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Plain-Java {@link KernelMath}: the body without the Vector API, and the readable statement of
 * what {@link PanamaKernelMath} computes. Every lane loop performs exactly the operations, in the
 * order, that the vector body performs on that lane, so both give the same bits.
 */
final class ScalarKernelMath implements KernelMath {

    static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final int L = LANES;

    /**
     * TRITS5[b] for a base-3 byte b < 243 ({@code io.vidkv.layout.TernaryLayout}): the mask of its
     * +1 tokens in bits 0-4 and of its -1 tokens in bits 5-9; 0 for b >= 243.
     */
    static final short[] TRITS5 = new short[256];

    /** BITS[b * 8 + i] = bit i of byte b as 0f or 1f: eight tokens' bits of one key bit row as lanes. */
    static final float[] BITS = new float[256 * 8];

    static {
        for (int b = 0; b < 256; b++) {
            for (int i = 0; i < 8; i++) {
                BITS[b * 8 + i] = b >>> i & 1;
            }
        }
    }

    /** TRITS5 as table offsets: (positive mask) x LANES in bits 0-15, (negative mask) x LANES in bits 16-31. */
    static final int[] TRITS5_AT = new int[256];

    static {
        for (int b = 0; b < 243; b++) {
            int v = b, pos = 0, neg = 0;
            for (int k = 0; k < 5; k++) {
                int digit = v % 3;
                v /= 3;
                pos |= (digit == 1 ? 1 : 0) << k;
                neg |= (digit == 2 ? 1 : 0) << k;
            }
            TRITS5[b] = (short) (pos | neg << 5);
            TRITS5_AT[b] = pos * LANES | neg * LANES << 16;
        }
    }


    /** G <= 64 bits at {@code off}, read as one long and masked to G bits. */
    static long planeWord(MemorySegment seg, long off, int groupSize) {
        long w = seg.get(LONG_LE, off);
        return groupSize == 64 ? w : w & ((1L << groupSize) - 1);
    }

    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * The {@code width}-bit field at bit {@code bit} of the bit string at {@code off} (width <= 7;
     * reads two bytes, so one byte past the string must be readable: the layouts put the scales
     * after it).
     */
    static int field(MemorySegment seg, long off, long bit, int width) {
        int two = seg.get(SHORT_LE, off + (bit >>> 3)) & 0xFFFF;
        return two >>> (bit & 7) & ((1 << width) - 1);
    }

    @Override
    public void planeScores(MemorySegment seg, long codes, int rows, int groupSize, float[] w, float[] bias, float[] scratch,
                            float[] scores) {
        for (int t = 0; t < groupSize; t++) {
            System.arraycopy(bias, 0, scores, t * L, L);
        }
        for (int i = 0; i < rows; i++) {
            long x = planeWord(seg, codes + (long) i * (groupSize / 8), groupSize);
            for (int t = 0; t < groupSize; t++) {
                if ((x >>> t & 1) != 0) {
                    for (int j = 0; j < L; j++) {
                        scores[t * L + j] += w[i * L + j];
                    }
                }
            }
        }
    }

    @Override
    public void tokenTables(float[] p, float[] perToken, int tokens, float[] tables) {
        for (int g = 0; 5 * g < tokens; g++) {
            int tb = g * TOKEN_TABLE;
            for (int j = 0; j < L; j++) {
                tables[tb + j] = 0f;
            }
            for (int k = 0; k < 5; k++) {
                int t = 5 * g + k;
                for (int m = 0; m < 1 << k; m++) {
                    for (int j = 0; j < L; j++) {
                        float pk = t < tokens ? p[t * L + j] * perToken[t] : 0f;
                        tables[tb + ((1 << k) + m) * L + j] = pk + tables[tb + m * L + j];
                    }
                }
            }
        }
    }

    @Override
    public void ternaryBase3(MemorySegment seg, long codes, int fullBytes, long tail, int tailBits, int d, float[] tables,
                             float[] scales, float[] rescale, float[] out, int outOff) {
        for (int c = 0; c < d; c++) {
            long at = codes + (long) c * fullBytes;
            int m0 = TRITS5[seg.get(ValueLayout.JAVA_BYTE, at) & 0xFF];
            for (int j = 0; j < L; j++) {
                float sp = tables[(m0 & 31) * L + j];
                float sn = tables[(m0 >>> 5) * L + j];
                for (int i = 1; i < fullBytes; i++) {
                    int m = TRITS5[seg.get(ValueLayout.JAVA_BYTE, at + i) & 0xFF];
                    sp += tables[i * TOKEN_TABLE + (m & 31) * L + j];
                    sn += tables[i * TOKEN_TABLE + (m >>> 5) * L + j];
                }
                if (tailBits > 0) {
                    int m = TRITS5[field(seg, tail, (long) c * tailBits, tailBits)];
                    sp += tables[fullBytes * TOKEN_TABLE + (m & 31) * L + j];
                    sn += tables[fullBytes * TOKEN_TABLE + (m >>> 5) * L + j];
                }
                int o = outOff + c * L + j;
                out[o] = Math.fma(scales[c], sp - sn, out[o] * rescale[j]);
            }
        }
    }

    @Override
    public void ternaryPlanes(MemorySegment seg, long codes, int groupSize, int d, float[] tables, float[] scales,
                              float[] rescale, float[] out, int outOff) {
        int planeBytes = groupSize / 8;
        int groups = (groupSize + 4) / 5;
        for (int c = 0; c < d; c++) {
            long nz = planeWord(seg, codes + (long) 2 * c * planeBytes, groupSize);
            long neg = planeWord(seg, codes + (long) (2 * c + 1) * planeBytes, groupSize);
            long pos = nz & ~neg, negs = nz & neg;
            for (int j = 0; j < L; j++) {
                float sp = tables[(int) (pos & 31) * L + j];
                float sn = tables[(int) (negs & 31) * L + j];
                for (int i = 1; i < groups; i++) {
                    sp += tables[i * TOKEN_TABLE + (int) (pos >>> (5 * i) & 31) * L + j];
                    sn += tables[i * TOKEN_TABLE + (int) (negs >>> (5 * i) & 31) * L + j];
                }
                int o = outOff + c * L + j;
                out[o] = Math.fma(scales[c], sp - sn, out[o] * rescale[j]);
            }
        }
    }

    @Override
    public void uniformValues(MemorySegment seg, long codes, int bits, int groupSize, int c0, int c1, float[] tables,
                              float[] mul, float[] add, int addStride, float[] rescale, float[] out, int outOff) {
        int planeBytes = groupSize / 8;
        int groups = (groupSize + 4) / 5;
        for (int c = c0; c < c1; c++) {
            for (int j = 0; j < L; j++) {
                float a = 0f;
                for (int p = 0; p < bits; p++) {
                    long x = planeWord(seg, codes + (long) (c * bits + p) * planeBytes, groupSize);
                    float s = tables[(int) (x & 31) * L + j];
                    for (int i = 1; i < groups; i++) {
                        s += tables[i * TOKEN_TABLE + (int) (x >>> (5 * i) & 31) * L + j];
                    }
                    a = p == 0 ? s : Math.fma(1 << p, s, a);
                }
                int o = outOff + c * L + j;
                out[o] = Math.fma(mul[c], a, out[o] * rescale[j]) + add[c * addStride + j];
            }
        }
    }

    @Override
    public void axpyToken(float[] p, int t, float[] vals, int vOff, int d, float[] out, int outOff) {
        for (int c = 0; c < d; c++) {
            for (int j = 0; j < L; j++) {
                out[outOff + c * L + j] = Math.fma(p[t * L + j], vals[vOff + c], out[outOff + c * L + j]);
            }
        }
    }

    @Override
    public void denseScores(float[] rows, int d, int tokens, float[] q, int qOff, float[] scores) {
        for (int t = 0; t < tokens; t++) {
            for (int j = 0; j < L; j++) {
                float s = 0f;
                for (int c = 0; c < d; c++) {
                    s = Math.fma(q[qOff + c * L + j], rows[t * d + c], s);
                }
                scores[t * L + j] = s;
            }
        }
    }

    @Override
    public void denseValues(float[] rows, int d, int tokens, float[] p, float[] rescale, float[] out, int outOff) {
        for (int c = 0; c < d; c++) {
            for (int j = 0; j < L; j++) {
                float a = out[outOff + c * L + j] * rescale[j];
                for (int t = 0; t < tokens; t++) {
                    a = Math.fma(p[t * L + j], rows[t * d + c], a);
                }
                out[outOff + c * L + j] = a;
            }
        }
    }

    @Override
    public void softmax(float[] scores, int visible, int tokens, float[] m, float[] l, float[] rescale) {
        for (int j = 0; j < L; j++) {
            float bm = scores[j];
            for (int t = 1; t < visible; t++) {
                bm = Math.max(bm, scores[t * L + j]);
            }
            float mNew = Math.max(m[j], bm);
            float sum = 0f;
            for (int t = 0; t < tokens; t++) {
                float p = t < visible ? ExpApprox.exp(scores[t * L + j] - mNew) : 0f;
                scores[t * L + j] = p;
                sum += p;
            }
            rescale[j] = ExpApprox.exp(m[j] - mNew);
            l[j] = l[j] * rescale[j] + sum;
            m[j] = mNew;
        }
    }

    @Override
    public void foldWeights(float[] q, int qOff, float[] scales, int rows, float factor, float[] w, int wRow) {
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < L; j++) {
                w[(wRow + r) * L + j] = factor * (q[qOff + r * L + j] * scales[r]);
            }
        }
    }

    @Override
    public void foldZeros(float[] q, int qOff, float[] zeros, int rows, float[] bias) {
        for (int j = 0; j < L; j++) {
            float b = bias[j];
            for (int r = 0; r < rows; r++) {
                b = Math.fma(q[qOff + r * L + j], zeros[r], b);
            }
            bias[j] = b;
        }
    }

    @Override
    public void foldSigns(float[] q, int qOff, float[] scales, int rows, float[] bias) {
        for (int j = 0; j < L; j++) {
            float b = bias[j];
            for (int r = 0; r < rows; r++) {
                b -= q[qOff + r * L + j] * scales[r];
            }
            bias[j] = b;
        }
    }

    @Override
    public void vidkvKeyTile32(MemorySegment seg, long codes, int a, int n, float[] scales, float[] zeros, int[] words,
                               MemorySegment tile, long dst, int d) {
        anomalousTileRows(seg, codes, a, 0, scales, zeros, tile, dst, d);
        componentTileRows(seg, codes, a, n, 0, scales, tile, dst, d);
    }

    /** {@link #vidkvKeyTile32}'s anomalous rows from {@code from} on (the vector body's remainder too). */
    static void anomalousTileRows(MemorySegment seg, long codes, int a, int from, float[] scales, float[] zeros,
                                  MemorySegment tile, long dst, int d) {
        for (int r = from; r < a; r++) {
            int lo = seg.get(INT_LE, codes + 4L * r), hi = seg.get(INT_LE, codes + 4L * (a + r));
            for (int t = 0; t < 32; t++) {
                int code = (lo >>> t & 1) + 2 * (hi >>> t & 1);
                tile.set(ValueLayout.JAVA_FLOAT, dst + 4L * (t * d + r), Math.fma(scales[r], code, zeros[r]));
            }
        }
    }

    /** {@link #vidkvKeyTile32}'s component rows from {@code from} on (the vector body's remainder too). */
    static void componentTileRows(MemorySegment seg, long codes, int a, int n, int from, float[] scales, MemorySegment tile,
                                  long dst, int d) {
        for (int j = from; j < n; j++) {
            int signs = seg.get(INT_LE, codes + 4L * (2 * a + j));
            float scale = scales[a + j];
            for (int t = 0; t < 32; t++) {
                tile.set(ValueLayout.JAVA_FLOAT, dst + 4L * (t * d + a + j), (signs >>> t & 1) != 0 ? scale : -scale);
            }
        }
    }

    @Override
    public void ternaryTile32(MemorySegment seg, long codes, long tail, float[] scales, int[] bytes, MemorySegment tile,
                              long dst, int d) {
        for (int c = 0; c < d; c++) {
            float scale = scales[c];
            for (int i = 0; i < 7; i++) {
                int v = i < 6 ? seg.get(ValueLayout.JAVA_BYTE, codes + 6L * c + i) & 0xFF
                        : seg.get(ValueLayout.JAVA_BYTE, tail + c / 2) >>> 4 * (c & 1) & 0xF;
                for (int k = 0; k < (i < 6 ? 5 : 2); k++) {
                    int q = v * 171 >>> 9; // v / 3 for v < 256
                    int digit = v - 3 * q;
                    v = q;
                    tile.set(ValueLayout.JAVA_FLOAT, dst + 4L * ((5 * i + k) * d + c), scale * (digit - 3 * (digit >>> 1)));
                }
            }
        }
    }

    @Override
    public float tileRowMax(MemorySegment tile, long off, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            m = Math.max(m, tile.get(ValueLayout.JAVA_FLOAT, off + 4L * i));
        }
        return m;
    }

    @Override
    public int tileRowExp(MemorySegment tile, long off, int from, int to, float shift, float[] partial) {
        int i = from;
        for (; i < to; i += 16) {
            long at = off + 4L * i;
            boolean above = false;
            for (int k = 0; k < 16; k++) {
                above |= tile.get(ValueLayout.JAVA_FLOAT, at + 4L * k) - shift > 0f;
            }
            if (above) {
                break; // a score above the shift: the caller raises it
            }
            for (int k = 0; k < 16; k++) {
                float e = ExpApprox.exp(tile.get(ValueLayout.JAVA_FLOAT, at + 4L * k) - shift);
                tile.set(ValueLayout.JAVA_FLOAT, at + 4L * k, e);
                partial[k] += e;
            }
        }
        return i;
    }

    @Override
    public void tileRowScale(MemorySegment tile, long off, int n, float factor) {
        for (int i = 0; i < n; i++) {
            long at = off + 4L * i;
            tile.set(ValueLayout.JAVA_FLOAT, at, tile.get(ValueLayout.JAVA_FLOAT, at) * factor);
        }
    }

    @Override
    public String name() {
        return "plain Java";
    }
}
