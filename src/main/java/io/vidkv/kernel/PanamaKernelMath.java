package io.vidkv.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.vidkv.kernel.ScalarKernelMath.LONG_LE;
import static io.vidkv.kernel.ScalarKernelMath.TRITS5;
import static io.vidkv.kernel.ScalarKernelMath.field;
import static io.vidkv.kernel.ScalarKernelMath.planeWord;

/**
 * The 256-bit Vector API body of {@link KernelMath}: one {@link FloatVector} of 8 lanes holds one
 * value per query head. Vectors never cross a method boundary (a vector passed to a call C2 does
 * not inline is boxed, KERNEL-NOTES.md), every constant vector is made inside its loop, and the
 * index arithmetic of the table lookups is unrolled by hand with four independent add chains.
 * Lane for lane it performs the operations of {@link ScalarKernelMath}.
 */
final class PanamaKernelMath implements KernelMath {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    private static final int L = LANES;

    /** Usable when the platform's preferred vectors are at least 256 bits wide. */
    static boolean available() {
        return FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 256;
    }

    private static FloatVector at(float[] a, int i) {
        return FloatVector.fromArray(F, a, i);
    }

    @Override
    public void bitTables(float[] w, int wOff, float[] tables) {
        for (int g = 0; g < 16; g++) {
            int b = (wOff + 4 * g) * L, t = g * BIT_TABLE;
            FloatVector w0 = at(w, b), w1 = at(w, b + L), w2 = at(w, b + 2 * L), w3 = at(w, b + 3 * L);
            FloatVector t3 = w0.add(w1), t5 = w2.add(w0), t6 = w2.add(w1), t7 = w2.add(t3);
            w0.intoArray(tables, t + L);
            w1.intoArray(tables, t + 2 * L);
            t3.intoArray(tables, t + 3 * L);
            w2.intoArray(tables, t + 4 * L);
            t5.intoArray(tables, t + 5 * L);
            t6.intoArray(tables, t + 6 * L);
            t7.intoArray(tables, t + 7 * L);
            w3.intoArray(tables, t + 8 * L);
            w3.add(w0).intoArray(tables, t + 9 * L);
            w3.add(w1).intoArray(tables, t + 10 * L);
            w3.add(t3).intoArray(tables, t + 11 * L);
            w3.add(w2).intoArray(tables, t + 12 * L);
            w3.add(t5).intoArray(tables, t + 13 * L);
            w3.add(t6).intoArray(tables, t + 14 * L);
            w3.add(t7).intoArray(tables, t + 15 * L);
        }
    }

    @Override
    public void scoreWord(MemorySegment seg, long codes, int stride, int word, long mask, int tokens, float[] tables,
                          float[] bias, float[] scores) {
        for (int t = 0; t < tokens; t++) {
            long x = seg.get(LONG_LE, codes + (long) t * stride + 8L * word) & mask;
            FloatVector a0 = at(tables, (int) (x & 15) * L);
            FloatVector a1 = at(tables, BIT_TABLE + (int) (x >>> 4 & 15) * L);
            FloatVector a2 = at(tables, 2 * BIT_TABLE + (int) (x >>> 8 & 15) * L);
            FloatVector a3 = at(tables, 3 * BIT_TABLE + (int) (x >>> 12 & 15) * L);
            a0 = a0.add(at(tables, 4 * BIT_TABLE + (int) (x >>> 16 & 15) * L));
            a1 = a1.add(at(tables, 5 * BIT_TABLE + (int) (x >>> 20 & 15) * L));
            a2 = a2.add(at(tables, 6 * BIT_TABLE + (int) (x >>> 24 & 15) * L));
            a3 = a3.add(at(tables, 7 * BIT_TABLE + (int) (x >>> 28 & 15) * L));
            a0 = a0.add(at(tables, 8 * BIT_TABLE + (int) (x >>> 32 & 15) * L));
            a1 = a1.add(at(tables, 9 * BIT_TABLE + (int) (x >>> 36 & 15) * L));
            a2 = a2.add(at(tables, 10 * BIT_TABLE + (int) (x >>> 40 & 15) * L));
            a3 = a3.add(at(tables, 11 * BIT_TABLE + (int) (x >>> 44 & 15) * L));
            a0 = a0.add(at(tables, 12 * BIT_TABLE + (int) (x >>> 48 & 15) * L));
            a1 = a1.add(at(tables, 13 * BIT_TABLE + (int) (x >>> 52 & 15) * L));
            a2 = a2.add(at(tables, 14 * BIT_TABLE + (int) (x >>> 56 & 15) * L));
            a3 = a3.add(at(tables, 15 * BIT_TABLE + (int) (x >>> 60 & 15) * L));
            FloatVector base = word == 0 ? at(bias, 0) : at(scores, t * L);
            base.add(a0.add(a1).add(a2.add(a3))).intoArray(scores, t * L);
        }
    }

    @Override
    public void tokenTables(float[] p, int tokens, float[] tables) {
        for (int g = 0; 5 * g < tokens; g++) {
            int tb = g * TOKEN_TABLE;
            FloatVector.zero(F).intoArray(tables, tb);
            for (int k = 0; k < 5; k++) {
                int t = 5 * g + k;
                FloatVector pk = t < tokens ? at(p, t * L) : FloatVector.zero(F);
                for (int m = 0; m < 1 << k; m++) {
                    pk.add(at(tables, tb + m * L)).intoArray(tables, tb + ((1 << k) + m) * L);
                }
            }
        }
    }

    @Override
    public void scaledTokenTables(float[] p, float[] u, int tokens, float[] tables) {
        for (int g = 0; 5 * g < tokens; g++) {
            int tb = g * TOKEN_TABLE;
            FloatVector.zero(F).intoArray(tables, tb);
            for (int k = 0; k < 5; k++) {
                int t = 5 * g + k;
                FloatVector pk = t < tokens ? at(p, t * L).mul(u[t]) : FloatVector.zero(F);
                for (int m = 0; m < 1 << k; m++) {
                    pk.add(at(tables, tb + m * L)).intoArray(tables, tb + ((1 << k) + m) * L);
                }
            }
        }
    }

    @Override
    public void ternaryBase3(MemorySegment seg, long codes, int fullBytes, long tail, int tailBits, int d, float[] tables,
                             float[] scales, float[] rescale, float[] out, int outOff) {
        FloatVector rs = at(rescale, 0);
        for (int c = 0; c < d; c++) {
            long at = codes + (long) c * fullBytes;
            int m0 = TRITS5[seg.get(ValueLayout.JAVA_BYTE, at) & 0xFF];
            FloatVector sp = at(tables, (m0 & 31) * L);
            FloatVector sn = at(tables, (m0 >>> 5) * L);
            for (int i = 1; i < fullBytes; i++) {
                int m = TRITS5[seg.get(ValueLayout.JAVA_BYTE, at + i) & 0xFF];
                sp = sp.add(at(tables, i * TOKEN_TABLE + (m & 31) * L));
                sn = sn.add(at(tables, i * TOKEN_TABLE + (m >>> 5) * L));
            }
            if (tailBits > 0) {
                int m = TRITS5[field(seg, tail, (long) c * tailBits, tailBits)];
                sp = sp.add(at(tables, fullBytes * TOKEN_TABLE + (m & 31) * L));
                sn = sn.add(at(tables, fullBytes * TOKEN_TABLE + (m >>> 5) * L));
            }
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
        for (int c = 0; c < d; c++) {
            long nz = planeWord(seg, codes + (long) 2 * c * planeBytes, groupSize);
            long neg = planeWord(seg, codes + (long) (2 * c + 1) * planeBytes, groupSize);
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
                              float[] mul, float[] add, float[] rescale, float[] out, int outOff) {
        FloatVector rs = at(rescale, 0);
        int planeBytes = groupSize / 8;
        int groups = (groupSize + 4) / 5;
        for (int c = c0; c < c1; c++) {
            FloatVector a = null;
            for (int p = 0; p < bits; p++) {
                long x = planeWord(seg, codes + (long) (c * bits + p) * planeBytes, groupSize);
                FloatVector s = at(tables, (int) (x & 31) * L);
                for (int i = 1; i < groups; i++) {
                    s = s.add(at(tables, i * TOKEN_TABLE + (int) (x >>> (5 * i) & 31) * L));
                }
                a = p == 0 ? s : s.fma(FloatVector.broadcast(F, 1 << p), a);
            }
            int o = outOff + c * L;
            a.fma(FloatVector.broadcast(F, mul[c]), at(out, o).mul(rs)).add(at(add, c * L)).intoArray(out, o);
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
            FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
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
            FloatVector s = FloatVector.zero(F);
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
        FloatVector bm = at(scores, 0);
        for (int t = 1; t < visible; t++) {
            bm = bm.max(at(scores, t * L));
        }
        FloatVector mOld = at(m, 0);
        FloatVector mNew = mOld.max(bm);
        FloatVector sum = FloatVector.zero(F);
        for (int t = 0; t < tokens; t++) {
            FloatVector p = t < visible ? exp(at(scores, t * L).sub(mNew)) : FloatVector.zero(F);
            p.intoArray(scores, t * L);
            sum = sum.add(p);
        }
        FloatVector rs = exp(mOld.sub(mNew));
        rs.intoArray(rescale, 0);
        at(l, 0).mul(rs).add(sum).intoArray(l, 0);
        mNew.intoArray(m, 0);
    }

    /** {@link ExpApprox#exp} on every lane (inputs <= 0 or -infinity). */
    private static FloatVector exp(FloatVector x) {
        VectorMask<Float> underflow = x.compare(VectorOperators.LT, ExpApprox.MIN_X).or(x.test(VectorOperators.IS_NAN));
        FloatVector xc = x.max(ExpApprox.MIN_X);
        IntVector n = (IntVector) FloatVector.broadcast(F, 0.5f).sub(xc.mul(ExpApprox.LOG2E)).convert(VectorOperators.F2I, 0);
        n = n.neg();
        FloatVector fn = (FloatVector) n.convert(VectorOperators.I2F, 0);
        FloatVector r = fn.fma(FloatVector.broadcast(F, -ExpApprox.LN2_HI), xc);
        r = fn.fma(FloatVector.broadcast(F, -ExpApprox.LN2_LO), r);
        FloatVector p = FloatVector.broadcast(F, ExpApprox.P0).fma(r, FloatVector.broadcast(F, ExpApprox.P1));
        p = p.fma(r, FloatVector.broadcast(F, ExpApprox.P2));
        p = p.fma(r, FloatVector.broadcast(F, ExpApprox.P3));
        p = p.fma(r, FloatVector.broadcast(F, ExpApprox.P4));
        p = p.fma(r, FloatVector.broadcast(F, ExpApprox.P5));
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        FloatVector pow2 = n.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return y.mul(pow2).blend(0f, underflow);
    }

    @Override
    public String name() {
        return "Vector API 256-bit";
    }
}
