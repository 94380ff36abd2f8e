package io.vidkv.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.vidkv.kernel.ScalarKernelMath.BITS;
import static io.vidkv.kernel.ScalarKernelMath.LONG_LE;
import static io.vidkv.kernel.ScalarKernelMath.SHORT_LE;
import static io.vidkv.kernel.ScalarKernelMath.TRITS5_AT;

/**
 * The Vector API body of {@link KernelMath}: one 256-bit {@link FloatVector} of 8 lanes holds one
 * value per query head; the key scores use the tokens as lanes instead, 16 per 512-bit vector under
 * lane masks where the platform prefers 512-bit vectors (AVX-512), else 8 per 256-bit vector.
 *
 * <p>C2 boxes a vector that crosses a call it does not inline, and a Vector API call it cannot inline
 * (past its inlining depth) runs as allocating Java code; the allocation tests catch both. So vectors
 * never cross a method boundary, constant vectors are made inside their loops (never the cached
 * {@code FloatVector.zero}, KERNEL-NOTES.md), the softmax loops (with the exp written out) are in
 * {@link PanamaSoftmax}, and the hot loops for the main layouts (G = 32 ternary and 2-bit values,
 * G = 64 ternary) are unrolled. Lane for lane it performs the operations of {@link ScalarKernelMath}.
 */
final class PanamaKernelMath implements KernelMath {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    private static final VectorSpecies<Float> F16 = FloatVector.SPECIES_512;
    /** AVX-512 (512-bit preferred vectors): key bit rows become 16-lane masks. */
    private static final boolean WIDE = FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512;
    private static final int L = LANES;

    /** Usable when the platform's preferred vectors are at least 256 bits wide. */
    static boolean available() {
        return FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 256;
    }

    private static FloatVector at(float[] a, int i) {
        return FloatVector.fromArray(F, a, i);
    }

    @Override
    public void planeScores(MemorySegment seg, long codes, int rows, int groupSize, float[] w, float[] bias, float[] scratch,
                            float[] scores) {
        if (WIDE && groupSize % 16 == 0) {
            for (int v = 0; v < groupSize / 16; v++) {
                planeScores16(seg, codes, rows, groupSize, v, w, bias, scratch);
                transpose(scratch, 16, v * 16, scores);
            }
            return;
        }
        for (int v = 0; v < groupSize / 8; v++) {
            planeScores8(seg, codes, rows, groupSize, v, w, bias, scratch);
            transpose(scratch, 8, v * 8, scores);
        }
    }

    /**
     * AVX-512: tokens 16v .. 16v + 15 in the 16 lanes, one accumulator per query head; a bit row is a
     * lane mask (kmov) and the head's weight is added under it. out[j * 16 + k] = score of token 16v + k.
     */
    private static void planeScores16(MemorySegment seg, long codes, int rows, int groupSize, int v, float[] w, float[] bias,
                                      float[] out) {
        FloatVector a0 = FloatVector.broadcast(F16, bias[0]), a1 = FloatVector.broadcast(F16, bias[1]);
        FloatVector a2 = FloatVector.broadcast(F16, bias[2]), a3 = FloatVector.broadcast(F16, bias[3]);
        FloatVector a4 = FloatVector.broadcast(F16, bias[4]), a5 = FloatVector.broadcast(F16, bias[5]);
        FloatVector a6 = FloatVector.broadcast(F16, bias[6]), a7 = FloatVector.broadcast(F16, bias[7]);
        long at = codes + 2L * v;
        int stride = groupSize / 8;
        for (int i = 0; i < rows; i++, at += stride) {
            VectorMask<Float> m = VectorMask.fromLong(F16, seg.get(SHORT_LE, at) & 0xFFFF);
            int wi = i * L;
            a0 = a0.add(FloatVector.broadcast(F16, w[wi]), m);
            a1 = a1.add(FloatVector.broadcast(F16, w[wi + 1]), m);
            a2 = a2.add(FloatVector.broadcast(F16, w[wi + 2]), m);
            a3 = a3.add(FloatVector.broadcast(F16, w[wi + 3]), m);
            a4 = a4.add(FloatVector.broadcast(F16, w[wi + 4]), m);
            a5 = a5.add(FloatVector.broadcast(F16, w[wi + 5]), m);
            a6 = a6.add(FloatVector.broadcast(F16, w[wi + 6]), m);
            a7 = a7.add(FloatVector.broadcast(F16, w[wi + 7]), m);
        }
        a0.intoArray(out, 0);
        a1.intoArray(out, 16);
        a2.intoArray(out, 32);
        a3.intoArray(out, 48);
        a4.intoArray(out, 64);
        a5.intoArray(out, 80);
        a6.intoArray(out, 96);
        a7.intoArray(out, 112);
    }

    /**
     * AVX2: tokens 8v .. 8v + 7 in the 8 lanes; a bit row's byte selects its 0/1 lanes from BITS and
     * each head's weight is multiply-added (w x 1 + a = a + w exactly, w x 0 + a = a).
     */
    private static void planeScores8(MemorySegment seg, long codes, int rows, int groupSize, int v, float[] w, float[] bias,
                                     float[] out) {
        FloatVector a0 = FloatVector.broadcast(F, bias[0]), a1 = FloatVector.broadcast(F, bias[1]);
        FloatVector a2 = FloatVector.broadcast(F, bias[2]), a3 = FloatVector.broadcast(F, bias[3]);
        FloatVector a4 = FloatVector.broadcast(F, bias[4]), a5 = FloatVector.broadcast(F, bias[5]);
        FloatVector a6 = FloatVector.broadcast(F, bias[6]), a7 = FloatVector.broadcast(F, bias[7]);
        long at = codes + v;
        int stride = groupSize / 8;
        for (int i = 0; i < rows; i++, at += stride) {
            FloatVector bits = at(BITS, (seg.get(ValueLayout.JAVA_BYTE, at) & 0xFF) * 8);
            int wi = i * L;
            a0 = bits.fma(FloatVector.broadcast(F, w[wi]), a0);
            a1 = bits.fma(FloatVector.broadcast(F, w[wi + 1]), a1);
            a2 = bits.fma(FloatVector.broadcast(F, w[wi + 2]), a2);
            a3 = bits.fma(FloatVector.broadcast(F, w[wi + 3]), a3);
            a4 = bits.fma(FloatVector.broadcast(F, w[wi + 4]), a4);
            a5 = bits.fma(FloatVector.broadcast(F, w[wi + 5]), a5);
            a6 = bits.fma(FloatVector.broadcast(F, w[wi + 6]), a6);
            a7 = bits.fma(FloatVector.broadcast(F, w[wi + 7]), a7);
        }
        a0.intoArray(out, 0);
        a1.intoArray(out, 8);
        a2.intoArray(out, 16);
        a3.intoArray(out, 24);
        a4.intoArray(out, 32);
        a5.intoArray(out, 40);
        a6.intoArray(out, 48);
        a7.intoArray(out, 56);
    }

    /** [head j][token k] (n tokens) to scores[(t0 + k) * LANES + j]. */
    private static void transpose(float[] byHead, int n, int t0, float[] scores) {
        for (int k = 0; k < n; k++) {
            for (int j = 0; j < L; j++) {
                scores[(t0 + k) * L + j] = byHead[j * n + k];
            }
        }
    }

    @Override
    public void tokenTables(float[] p, float[] perToken, int tokens, float[] tables) {
        int full = tokens / 5;
        for (int g = 0; g < full; g++) {
            int t = 5 * g;
            table(p, t * L, (t + 1) * L, (t + 2) * L, (t + 3) * L, (t + 4) * L, perToken[t], perToken[t + 1], perToken[t + 2],
                    perToken[t + 3], perToken[t + 4], tables, g * TOKEN_TABLE);
        }
        if (tokens % 5 != 0) {
            // The last group's missing tokens weigh 0. Choosing a vector by a branch (p_k or zero) merges
            // two vectors at a phi, which C2 boxed in some JVMs (a heap allocation per call, found by the
            // steady-state allocation tests), so the group's weights go first, scalar, where its entries
            // 2^k will be (entry 2^k = p_k + entry 0 = p_k), and the same branch-free body reads them there.
            int tb = full * TOKEN_TABLE, t = 5 * full;
            for (int k = 0; k < 5; k++) {
                for (int j = 0; j < L; j++) {
                    tables[tb + (1 << k) * L + j] = t + k < tokens ? p[(t + k) * L + j] * perToken[t + k] : 0f;
                }
            }
            table(tables, tb + L, tb + 2 * L, tb + 4 * L, tb + 8 * L, tb + 16 * L, 1f, 1f, 1f, 1f, 1f, tables, tb);
        }
    }

    /**
     * One 5-token table at tables[tb ..]: the weights p_k = w[o_k ..] x s_k, then entry 2^k + m = p_k +
     * entry m (ScalarKernelMath's order). Written out so entries 0-15 stay in registers; every load comes
     * before the first store, so {@code w} may be {@code tables} itself (the last group, see above).
     */
    private static void table(float[] w, int o0, int o1, int o2, int o3, int o4, float s0, float s1, float s2, float s3,
                              float s4, float[] tables, int tb) {
        FloatVector p0 = at(w, o0).mul(s0);
        FloatVector p1 = at(w, o1).mul(s1);
        FloatVector p2 = at(w, o2).mul(s2);
        FloatVector p3 = at(w, o3).mul(s3);
        FloatVector p4 = at(w, o4).mul(s4);
        FloatVector e0 = FloatVector.broadcast(F, 0f);
        FloatVector e1 = p0.add(e0);
        FloatVector e2 = p1.add(e0);
        FloatVector e3 = p1.add(e1);
        FloatVector e4 = p2.add(e0);
        FloatVector e5 = p2.add(e1);
        FloatVector e6 = p2.add(e2);
        FloatVector e7 = p2.add(e3);
        FloatVector e8 = p3.add(e0);
        FloatVector e9 = p3.add(e1);
        FloatVector e10 = p3.add(e2);
        FloatVector e11 = p3.add(e3);
        FloatVector e12 = p3.add(e4);
        FloatVector e13 = p3.add(e5);
        FloatVector e14 = p3.add(e6);
        FloatVector e15 = p3.add(e7);
        e0.intoArray(tables, tb + 0 * L);
        e1.intoArray(tables, tb + 1 * L);
        e2.intoArray(tables, tb + 2 * L);
        e3.intoArray(tables, tb + 3 * L);
        e4.intoArray(tables, tb + 4 * L);
        e5.intoArray(tables, tb + 5 * L);
        e6.intoArray(tables, tb + 6 * L);
        e7.intoArray(tables, tb + 7 * L);
        e8.intoArray(tables, tb + 8 * L);
        e9.intoArray(tables, tb + 9 * L);
        e10.intoArray(tables, tb + 10 * L);
        e11.intoArray(tables, tb + 11 * L);
        e12.intoArray(tables, tb + 12 * L);
        e13.intoArray(tables, tb + 13 * L);
        e14.intoArray(tables, tb + 14 * L);
        e15.intoArray(tables, tb + 15 * L);
        p4.add(e0).intoArray(tables, tb + 16 * L);
        p4.add(e1).intoArray(tables, tb + 17 * L);
        p4.add(e2).intoArray(tables, tb + 18 * L);
        p4.add(e3).intoArray(tables, tb + 19 * L);
        p4.add(e4).intoArray(tables, tb + 20 * L);
        p4.add(e5).intoArray(tables, tb + 21 * L);
        p4.add(e6).intoArray(tables, tb + 22 * L);
        p4.add(e7).intoArray(tables, tb + 23 * L);
        p4.add(e8).intoArray(tables, tb + 24 * L);
        p4.add(e9).intoArray(tables, tb + 25 * L);
        p4.add(e10).intoArray(tables, tb + 26 * L);
        p4.add(e11).intoArray(tables, tb + 27 * L);
        p4.add(e12).intoArray(tables, tb + 28 * L);
        p4.add(e13).intoArray(tables, tb + 29 * L);
        p4.add(e14).intoArray(tables, tb + 30 * L);
        p4.add(e15).intoArray(tables, tb + 31 * L);
    }

    @Override
    public void ternaryBase3(MemorySegment seg, long codes, int fullBytes, long tail, int tailBits, int d, float[] tables,
                             float[] scales, float[] rescale, float[] out, int outOff) {
        if (fullBytes == 6 && tailBits == 4) {
            ternary32(seg, codes, tail, d, tables, scales, rescale, out, outOff);
            return;
        }
        if (fullBytes == 12 && tailBits == 7) {
            ternary64(seg, codes, tail, d, tables, scales, rescale, out, outOff);
            return;
        }
        FloatVector rs = at(rescale, 0);
        for (int c = 0; c < d; c++) {
            long at = codes + (long) c * fullBytes;
            long x = seg.get(LONG_LE, at); // eight base-3 bytes per load
            int m0 = TRITS5_AT[(int) (x & 0xFF)];
            FloatVector sp = at(tables, m0 & 0xFFFF);
            FloatVector sn = at(tables, m0 >>> 16);
            for (int i = 1; i < fullBytes; i++) {
                x = (i & 7) == 0 ? seg.get(LONG_LE, at + i) : x >>> 8;
                int m = TRITS5_AT[(int) (x & 0xFF)];
                sp = sp.add(at(tables, i * TOKEN_TABLE + (m & 0xFFFF)));
                sn = sn.add(at(tables, i * TOKEN_TABLE + (m >>> 16)));
            }
            if (tailBits > 0) {
                long bit = (long) c * tailBits; // field() written out: a call here would spill sp and sn
                int m = TRITS5_AT[(seg.get(SHORT_LE, tail + (bit >>> 3)) & 0xFFFF) >>> (bit & 7) & ((1 << tailBits) - 1)];
                sp = sp.add(at(tables, fullBytes * TOKEN_TABLE + (m & 0xFFFF)));
                sn = sn.add(at(tables, fullBytes * TOKEN_TABLE + (m >>> 16)));
            }
            int o = outOff + c * L;
            sp.sub(sn).fma(FloatVector.broadcast(F, scales[c]), at(out, o).mul(rs)).intoArray(out, o);
        }
    }

    /** G = 32 (six base-3 bytes and a 4-bit tail per channel), unrolled: the loop overhead was a third of the time. */
    private static void ternary32(MemorySegment seg, long codes, long tail, int d, float[] tables, float[] scales,
                                  float[] rescale, float[] out, int outOff) {
        FloatVector rs = at(rescale, 0);
        for (int c = 0; c < d; c++) {
            long x = seg.get(LONG_LE, codes + 6L * c);
            int m0 = TRITS5_AT[(int) x & 0xFF], m1 = TRITS5_AT[(int) (x >>> 8) & 0xFF], m2 = TRITS5_AT[(int) (x >>> 16) & 0xFF];
            int m3 = TRITS5_AT[(int) (x >>> 24) & 0xFF], m4 = TRITS5_AT[(int) (x >>> 32) & 0xFF];
            int m5 = TRITS5_AT[(int) (x >>> 40) & 0xFF];
            int m6 = TRITS5_AT[seg.get(ValueLayout.JAVA_BYTE, tail + (c >>> 1)) >>> ((c & 1) << 2) & 15];
            FloatVector sp = at(tables, m0 & 0xFFFF);
            FloatVector sn = at(tables, m0 >>> 16);
            sp = sp.add(at(tables, TOKEN_TABLE + (m1 & 0xFFFF)));
            sn = sn.add(at(tables, TOKEN_TABLE + (m1 >>> 16)));
            sp = sp.add(at(tables, 2 * TOKEN_TABLE + (m2 & 0xFFFF)));
            sn = sn.add(at(tables, 2 * TOKEN_TABLE + (m2 >>> 16)));
            sp = sp.add(at(tables, 3 * TOKEN_TABLE + (m3 & 0xFFFF)));
            sn = sn.add(at(tables, 3 * TOKEN_TABLE + (m3 >>> 16)));
            sp = sp.add(at(tables, 4 * TOKEN_TABLE + (m4 & 0xFFFF)));
            sn = sn.add(at(tables, 4 * TOKEN_TABLE + (m4 >>> 16)));
            sp = sp.add(at(tables, 5 * TOKEN_TABLE + (m5 & 0xFFFF)));
            sn = sn.add(at(tables, 5 * TOKEN_TABLE + (m5 >>> 16)));
            sp = sp.add(at(tables, 6 * TOKEN_TABLE + (m6 & 0xFFFF)));
            sn = sn.add(at(tables, 6 * TOKEN_TABLE + (m6 >>> 16)));
            int o = outOff + c * L;
            sp.sub(sn).fma(FloatVector.broadcast(F, scales[c]), at(out, o).mul(rs)).intoArray(out, o);
        }
    }

    /** G = 64 (twelve base-3 bytes and a 7-bit tail per channel), unrolled like {@link #ternary32}. */
    private static void ternary64(MemorySegment seg, long codes, long tail, int d, float[] tables, float[] scales,
                                  float[] rescale, float[] out, int outOff) {
        FloatVector rs = at(rescale, 0);
        for (int c = 0; c < d; c++) {
            long x = seg.get(LONG_LE, codes + 12L * c), y = seg.get(LONG_LE, codes + 12L * c + 8);
            long bit = 7L * c;
            int m12 = TRITS5_AT[(seg.get(SHORT_LE, tail + (bit >>> 3)) & 0xFFFF) >>> (bit & 7) & 127];
            int m = TRITS5_AT[(int) x & 0xFF];
            FloatVector sp = at(tables, m & 0xFFFF);
            FloatVector sn = at(tables, m >>> 16);
            for (int i = 1; i < 8; i++) {
                m = TRITS5_AT[(int) (x >>> (8 * i)) & 0xFF];
                sp = sp.add(at(tables, i * TOKEN_TABLE + (m & 0xFFFF)));
                sn = sn.add(at(tables, i * TOKEN_TABLE + (m >>> 16)));
            }
            for (int i = 8; i < 12; i++) {
                m = TRITS5_AT[(int) (y >>> (8 * (i - 8))) & 0xFF];
                sp = sp.add(at(tables, i * TOKEN_TABLE + (m & 0xFFFF)));
                sn = sn.add(at(tables, i * TOKEN_TABLE + (m >>> 16)));
            }
            sp = sp.add(at(tables, 12 * TOKEN_TABLE + (m12 & 0xFFFF)));
            sn = sn.add(at(tables, 12 * TOKEN_TABLE + (m12 >>> 16)));
            int o = outOff + c * L;
            sp.sub(sn).fma(FloatVector.broadcast(F, scales[c]), at(out, o).mul(rs)).intoArray(out, o);
        }
    }

    @Override
    public void ternaryPlanes(MemorySegment seg, long codes, int groupSize, int d, float[] tables, float[] scales,
                              float[] rescale, float[] out, int outOff) {
        FloatVector rs = at(rescale, 0);
        int planeBytes = groupSize / 8;
        int groups = (groupSize + 4) / 5;
        long planeMask = groupSize == 64 ? -1L : (1L << groupSize) - 1; // planeWord() written out: no call with live vectors
        for (int c = 0; c < d; c++) {
            long nz = seg.get(LONG_LE, codes + (long) 2 * c * planeBytes) & planeMask;
            long neg = seg.get(LONG_LE, codes + (long) (2 * c + 1) * planeBytes) & planeMask;
            long pos = nz & ~neg, negs = nz & neg;
            FloatVector sp = at(tables, (int) (pos & 31) * L);
            FloatVector sn = at(tables, (int) (negs & 31) * L);
            for (int i = 1; i < groups; i++) {
                sp = sp.add(at(tables, i * TOKEN_TABLE + (int) (pos >>> (5 * i) & 31) * L));
                sn = sn.add(at(tables, i * TOKEN_TABLE + (int) (negs >>> (5 * i) & 31) * L));
            }
            int o = outOff + c * L;
            sp.sub(sn).fma(FloatVector.broadcast(F, scales[c]), at(out, o).mul(rs)).intoArray(out, o);
        }
    }

    @Override
    public void uniformValues(MemorySegment seg, long codes, int bits, int groupSize, int c0, int c1, float[] tables,
                              float[] mul, float[] add, int addStride, float[] rescale, float[] out, int outOff) {
        if (bits == 2 && groupSize == 32) {
            uniform2x32(seg, codes, c0, c1, tables, mul, add, addStride, rescale, out, outOff);
            return;
        }
        FloatVector rs = at(rescale, 0);
        int planeBytes = groupSize / 8;
        int groups = (groupSize + 4) / 5;
        long planeMask = groupSize == 64 ? -1L : (1L << groupSize) - 1; // planeWord() written out: no call with live vectors
        for (int c = c0; c < c1; c++) {
            long x0 = seg.get(LONG_LE, codes + (long) c * bits * planeBytes) & planeMask;
            FloatVector a = at(tables, (int) (x0 & 31) * L);
            for (int i = 1; i < groups; i++) {
                a = a.add(at(tables, i * TOKEN_TABLE + (int) (x0 >>> (5 * i) & 31) * L));
            }
            for (int p = 1; p < bits; p++) {
                long x = seg.get(LONG_LE, codes + (long) (c * bits + p) * planeBytes) & planeMask;
                FloatVector s = at(tables, (int) (x & 31) * L);
                for (int i = 1; i < groups; i++) {
                    s = s.add(at(tables, i * TOKEN_TABLE + (int) (x >>> (5 * i) & 31) * L));
                }
                a = s.fma(FloatVector.broadcast(F, 1 << p), a);
            }
            int o = outOff + c * L;
            a.fma(FloatVector.broadcast(F, mul[c]), at(out, o).mul(rs)).add(at(add, c * addStride)).intoArray(out, o);
        }
    }

    /** 2-bit codes, G = 32 (two 4-byte planes per channel, seven token tables), unrolled like {@link #ternary32}. */
    private static void uniform2x32(MemorySegment seg, long codes, int c0, int c1, float[] tables, float[] mul, float[] add,
                                    int addStride, float[] rescale, float[] out, int outOff) {
        FloatVector rs = at(rescale, 0);
        for (int c = c0; c < c1; c++) {
            long w = seg.get(LONG_LE, codes + 8L * c); // plane 0 in the low 32 bits, plane 1 in the high
            FloatVector a = at(tables, (int) (w << 3) & 0xF8);
            a = a.add(at(tables, TOKEN_TABLE + ((int) (w >>> 2) & 0xF8)));
            a = a.add(at(tables, 2 * TOKEN_TABLE + ((int) (w >>> 7) & 0xF8)));
            a = a.add(at(tables, 3 * TOKEN_TABLE + ((int) (w >>> 12) & 0xF8)));
            a = a.add(at(tables, 4 * TOKEN_TABLE + ((int) (w >>> 17) & 0xF8)));
            a = a.add(at(tables, 5 * TOKEN_TABLE + ((int) (w >>> 22) & 0xF8)));
            a = a.add(at(tables, 6 * TOKEN_TABLE + ((int) (w >>> 27) & 0x18)));
            FloatVector s = at(tables, (int) (w >>> 29) & 0xF8);
            s = s.add(at(tables, TOKEN_TABLE + ((int) (w >>> 34) & 0xF8)));
            s = s.add(at(tables, 2 * TOKEN_TABLE + ((int) (w >>> 39) & 0xF8)));
            s = s.add(at(tables, 3 * TOKEN_TABLE + ((int) (w >>> 44) & 0xF8)));
            s = s.add(at(tables, 4 * TOKEN_TABLE + ((int) (w >>> 49) & 0xF8)));
            s = s.add(at(tables, 5 * TOKEN_TABLE + ((int) (w >>> 54) & 0xF8)));
            s = s.add(at(tables, 6 * TOKEN_TABLE + ((int) (w >>> 59) & 0x18)));
            a = s.fma(FloatVector.broadcast(F, 2f), a);
            int o = outOff + c * L;
            a.fma(FloatVector.broadcast(F, mul[c]), at(out, o).mul(rs)).add(at(add, c * addStride)).intoArray(out, o);
        }
    }

    @Override
    public void axpyToken(float[] p, int t, float[] vals, int vOff, int d, float[] out, int outOff) {
        FloatVector pv = at(p, t * L);
        for (int c = 0; c < d; c++) {
            int o = outOff + c * L;
            pv.fma(FloatVector.broadcast(F, vals[vOff + c]), at(out, o)).intoArray(out, o);
        }
    }

    @Override
    public void denseScores(float[] rows, int d, int tokens, float[] q, int qOff, float[] scores) {
        int t = 0;
        for (; t + 8 <= tokens; t += 8) { // eight tokens: eight independent FMA chains
            FloatVector s0 = FloatVector.broadcast(F, 0f), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
            int r = t * d;
            for (int c = 0; c < d; c++, r++) {
                FloatVector qc = at(q, qOff + c * L);
                s0 = qc.fma(FloatVector.broadcast(F, rows[r]), s0);
                s1 = qc.fma(FloatVector.broadcast(F, rows[r + d]), s1);
                s2 = qc.fma(FloatVector.broadcast(F, rows[r + 2 * d]), s2);
                s3 = qc.fma(FloatVector.broadcast(F, rows[r + 3 * d]), s3);
                s4 = qc.fma(FloatVector.broadcast(F, rows[r + 4 * d]), s4);
                s5 = qc.fma(FloatVector.broadcast(F, rows[r + 5 * d]), s5);
                s6 = qc.fma(FloatVector.broadcast(F, rows[r + 6 * d]), s6);
                s7 = qc.fma(FloatVector.broadcast(F, rows[r + 7 * d]), s7);
            }
            s0.intoArray(scores, t * L);
            s1.intoArray(scores, (t + 1) * L);
            s2.intoArray(scores, (t + 2) * L);
            s3.intoArray(scores, (t + 3) * L);
            s4.intoArray(scores, (t + 4) * L);
            s5.intoArray(scores, (t + 5) * L);
            s6.intoArray(scores, (t + 6) * L);
            s7.intoArray(scores, (t + 7) * L);
        }
        for (; t < tokens; t++) {
            FloatVector s = FloatVector.broadcast(F, 0f);
            for (int c = 0; c < d; c++) {
                s = at(q, qOff + c * L).fma(FloatVector.broadcast(F, rows[t * d + c]), s);
            }
            s.intoArray(scores, t * L);
        }
    }

    @Override
    public void denseValues(float[] rows, int d, int tokens, float[] p, float[] rescale, float[] out, int outOff) {
        FloatVector rs = at(rescale, 0);
        for (int c = 0; c < d; c += 8) { // d % 8 == 0: eight channels, eight chains
            int o = outOff + c * L;
            FloatVector a0 = at(out, o).mul(rs), a1 = at(out, o + L).mul(rs), a2 = at(out, o + 2 * L).mul(rs),
                    a3 = at(out, o + 3 * L).mul(rs), a4 = at(out, o + 4 * L).mul(rs), a5 = at(out, o + 5 * L).mul(rs),
                    a6 = at(out, o + 6 * L).mul(rs), a7 = at(out, o + 7 * L).mul(rs);
            for (int t = 0, r = c; t < tokens; t++, r += d) {
                FloatVector pt = at(p, t * L);
                a0 = pt.fma(FloatVector.broadcast(F, rows[r]), a0);
                a1 = pt.fma(FloatVector.broadcast(F, rows[r + 1]), a1);
                a2 = pt.fma(FloatVector.broadcast(F, rows[r + 2]), a2);
                a3 = pt.fma(FloatVector.broadcast(F, rows[r + 3]), a3);
                a4 = pt.fma(FloatVector.broadcast(F, rows[r + 4]), a4);
                a5 = pt.fma(FloatVector.broadcast(F, rows[r + 5]), a5);
                a6 = pt.fma(FloatVector.broadcast(F, rows[r + 6]), a6);
                a7 = pt.fma(FloatVector.broadcast(F, rows[r + 7]), a7);
            }
            a0.intoArray(out, o);
            a1.intoArray(out, o + L);
            a2.intoArray(out, o + 2 * L);
            a3.intoArray(out, o + 3 * L);
            a4.intoArray(out, o + 4 * L);
            a5.intoArray(out, o + 5 * L);
            a6.intoArray(out, o + 6 * L);
            a7.intoArray(out, o + 7 * L);
        }
    }

    @Override
    public void softmax(float[] scores, int visible, int tokens, float[] m, float[] l, float[] rescale) {
        PanamaSoftmax.softmax(scores, visible, tokens, m, l, rescale);
    }

    @Override
    public void foldWeights(float[] q, int qOff, float[] scales, int rows, float factor, float[] w, int wRow) {
        for (int r = 0; r < rows; r++) {
            FloatVector f = FloatVector.broadcast(F, factor);
            f.mul(FloatVector.fromArray(F, q, qOff + r * L).mul(scales[r])).intoArray(w, (wRow + r) * L);
        }
    }

    @Override
    public void foldZeros(float[] q, int qOff, float[] zeros, int rows, float[] bias) {
        FloatVector b = FloatVector.fromArray(F, bias, 0);
        for (int r = 0; r < rows; r++) {
            b = FloatVector.fromArray(F, q, qOff + r * L).fma(FloatVector.broadcast(F, zeros[r]), b);
        }
        b.intoArray(bias, 0);
    }

    @Override
    public void foldSigns(float[] q, int qOff, float[] scales, int rows, float[] bias) {
        FloatVector b = FloatVector.fromArray(F, bias, 0);
        for (int r = 0; r < rows; r++) {
            b = b.sub(FloatVector.fromArray(F, q, qOff + r * L).mul(scales[r]));
        }
        b.intoArray(bias, 0);
    }

    @Override
    public void vidkvKeyTile32(MemorySegment seg, long codes, int a, int n, float[] scales, float[] zeros, int[] words,
                               MemorySegment tile, long dst, int d) {
        PanamaTiles.vidkvKeyTile32(seg, codes, a, n, scales, zeros, words, tile, dst, d);
    }

    @Override
    public void ternaryTile32(MemorySegment seg, long codes, long tail, float[] scales, int[] bytes, MemorySegment tile,
                              long dst, int d) {
        PanamaTiles.ternaryTile32(seg, codes, tail, scales, bytes, tile, dst, d);
    }

    @Override
    public float tileRowMax(MemorySegment tile, long off, int n) {
        return PanamaSoftmax.tileRowMax(tile, off, n);
    }

    @Override
    public int tileRowExp(MemorySegment tile, long off, int from, int to, float shift, float[] partial) {
        return WIDE ? PanamaSoftmax.tileRowExp512(tile, off, from, to, shift, partial)
                : PanamaSoftmax.tileRowExp256(tile, off, from, to, shift, partial);
    }

    @Override
    public void tileRowScale(MemorySegment tile, long off, int n, float factor) {
        PanamaSoftmax.tileRowScale(tile, off, n, factor);
    }

    @Override
    public String name() {
        return WIDE ? "Vector API: 256-bit head lanes, 512-bit key token masks" : "Vector API 256-bit";
    }
}
