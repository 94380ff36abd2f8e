package io.vidkv.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Vector API {@link AttentionMath}. The score loop keeps four accumulators (32 tokens with 8-lane
 * floats) in registers while it walks the rows, so each decoded row element is loaded once per
 * query head; the value loop does the same over 4 vectors of channels while it walks tokens.
 */
final class PanamaAttentionMath implements AttentionMath {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    @Override
    public void scores2(float[] rows, int rowCount, int tokens, float[] q, int qOff0, int qOff1, float[] out,
                        int outOff0, int outOff1) {
        if (tokens % (4 * L) != 0) {
            scores(rows, rowCount, tokens, q, qOff0, out, outOff0);
            scores(rows, rowCount, tokens, q, qOff1, out, outOff1);
            return;
        }
        // Two query heads share each row load; 8 accumulators cover the FMA latency.
        for (int t = 0; t < tokens; t += 4 * L) {
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            for (int r = 0, base = t; r < rowCount; r++, base += tokens) {
                FloatVector qa = FloatVector.broadcast(S, q[qOff0 + r]);
                FloatVector qb = FloatVector.broadcast(S, q[qOff1 + r]);
                FloatVector k0 = FloatVector.fromArray(S, rows, base);
                FloatVector k1 = FloatVector.fromArray(S, rows, base + L);
                FloatVector k2 = FloatVector.fromArray(S, rows, base + 2 * L);
                FloatVector k3 = FloatVector.fromArray(S, rows, base + 3 * L);
                a0 = k0.fma(qa, a0);
                a1 = k1.fma(qa, a1);
                a2 = k2.fma(qa, a2);
                a3 = k3.fma(qa, a3);
                b0 = k0.fma(qb, b0);
                b1 = k1.fma(qb, b1);
                b2 = k2.fma(qb, b2);
                b3 = k3.fma(qb, b3);
            }
            a0.intoArray(out, outOff0 + t);
            a1.intoArray(out, outOff0 + t + L);
            a2.intoArray(out, outOff0 + t + 2 * L);
            a3.intoArray(out, outOff0 + t + 3 * L);
            b0.intoArray(out, outOff1 + t);
            b1.intoArray(out, outOff1 + t + L);
            b2.intoArray(out, outOff1 + t + 2 * L);
            b3.intoArray(out, outOff1 + t + 3 * L);
        }
    }

    @Override
    public void scores(float[] rows, int rowCount, int tokens, float[] q, int qOff, float[] out, int outOff) {
        int t = 0;
        for (; t + 4 * L <= tokens; t += 4 * L) {
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            for (int r = 0, base = t; r < rowCount; r++, base += tokens) {
                FloatVector qr = FloatVector.broadcast(S, q[qOff + r]);
                a0 = FloatVector.fromArray(S, rows, base).fma(qr, a0);
                a1 = FloatVector.fromArray(S, rows, base + L).fma(qr, a1);
                a2 = FloatVector.fromArray(S, rows, base + 2 * L).fma(qr, a2);
                a3 = FloatVector.fromArray(S, rows, base + 3 * L).fma(qr, a3);
            }
            a0.intoArray(out, outOff + t);
            a1.intoArray(out, outOff + t + L);
            a2.intoArray(out, outOff + t + 2 * L);
            a3.intoArray(out, outOff + t + 3 * L);
        }
        for (; t + L <= tokens; t += L) {
            FloatVector a = FloatVector.zero(S);
            for (int r = 0, base = t; r < rowCount; r++, base += tokens) {
                a = FloatVector.fromArray(S, rows, base).fma(FloatVector.broadcast(S, q[qOff + r]), a);
            }
            a.intoArray(out, outOff + t);
        }
        for (; t < tokens; t++) {
            float s = 0f;
            for (int r = 0; r < rowCount; r++) {
                s += q[qOff + r] * rows[r * tokens + t];
            }
            out[outOff + t] = s;
        }
    }

    @Override
    public float max(float[] x, int off, int n) {
        int i = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (n >= L) {
            FloatVector v = FloatVector.fromArray(S, x, off);
            for (i = L; i + L <= n; i += L) {
                v = v.max(FloatVector.fromArray(S, x, off + i));
            }
            m = v.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) {
            m = Math.max(m, x[off + i]);
        }
        return m;
    }

    @Override
    public float expShiftSum(float[] x, int off, int n, float shift) {
        int i = 0;
        FloatVector sh = FloatVector.broadcast(S, shift);
        for (; i + L <= n; i += L) {
            exp(FloatVector.fromArray(S, x, off + i).sub(sh)).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            x[off + i] = ExpApprox.exp(x[off + i] - shift);
        }
        // Summed in index order, like the scalar path: a vector reduction's order is unspecified.
        float s = 0f;
        for (int j = off; j < off + n; j++) {
            s += x[j];
        }
        return s;
    }

    /** {@link ExpApprox#exp} on every lane (inputs <= 0). */
    private static FloatVector exp(FloatVector x) {
        VectorMask<Float> underflow = x.compare(VectorOperators.LT, ExpApprox.MIN_X)
                .or(x.test(VectorOperators.IS_NAN));
        FloatVector xc = x.max(ExpApprox.MIN_X);
        IntVector n = (IntVector) FloatVector.broadcast(S, 0.5f).sub(xc.mul(ExpApprox.LOG2E))
                .convert(VectorOperators.F2I, 0);
        n = n.neg();
        FloatVector fn = (FloatVector) n.convert(VectorOperators.I2F, 0);
        FloatVector r = fn.fma(FloatVector.broadcast(S, -ExpApprox.LN2_HI), xc);
        r = fn.fma(FloatVector.broadcast(S, -ExpApprox.LN2_LO), r);
        FloatVector p = FloatVector.broadcast(S, ExpApprox.P0).fma(r, FloatVector.broadcast(S, ExpApprox.P1));
        p = p.fma(r, FloatVector.broadcast(S, ExpApprox.P2));
        p = p.fma(r, FloatVector.broadcast(S, ExpApprox.P3));
        p = p.fma(r, FloatVector.broadcast(S, ExpApprox.P4));
        p = p.fma(r, FloatVector.broadcast(S, ExpApprox.P5));
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        FloatVector pow2 = n.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return y.mul(pow2).blend(0f, underflow);
    }

    @Override
    public void accumulate(float[] values, int tokens, int d, float[] p, int pOff, float rescale, float[] acc, int accOff) {
        int c = 0;
        FloatVector rs = FloatVector.broadcast(S, rescale);
        // 8 independent accumulators (64 channels at 8 lanes): enough to cover the FMA latency.
        for (; c + 8 * L <= d; c += 8 * L) {
            FloatVector a0 = FloatVector.fromArray(S, acc, accOff + c).mul(rs);
            FloatVector a1 = FloatVector.fromArray(S, acc, accOff + c + L).mul(rs);
            FloatVector a2 = FloatVector.fromArray(S, acc, accOff + c + 2 * L).mul(rs);
            FloatVector a3 = FloatVector.fromArray(S, acc, accOff + c + 3 * L).mul(rs);
            FloatVector a4 = FloatVector.fromArray(S, acc, accOff + c + 4 * L).mul(rs);
            FloatVector a5 = FloatVector.fromArray(S, acc, accOff + c + 5 * L).mul(rs);
            FloatVector a6 = FloatVector.fromArray(S, acc, accOff + c + 6 * L).mul(rs);
            FloatVector a7 = FloatVector.fromArray(S, acc, accOff + c + 7 * L).mul(rs);
            for (int t = 0, base = c; t < tokens; t++, base += d) {
                FloatVector w = FloatVector.broadcast(S, p[pOff + t]);
                a0 = FloatVector.fromArray(S, values, base).fma(w, a0);
                a1 = FloatVector.fromArray(S, values, base + L).fma(w, a1);
                a2 = FloatVector.fromArray(S, values, base + 2 * L).fma(w, a2);
                a3 = FloatVector.fromArray(S, values, base + 3 * L).fma(w, a3);
                a4 = FloatVector.fromArray(S, values, base + 4 * L).fma(w, a4);
                a5 = FloatVector.fromArray(S, values, base + 5 * L).fma(w, a5);
                a6 = FloatVector.fromArray(S, values, base + 6 * L).fma(w, a6);
                a7 = FloatVector.fromArray(S, values, base + 7 * L).fma(w, a7);
            }
            a0.intoArray(acc, accOff + c);
            a1.intoArray(acc, accOff + c + L);
            a2.intoArray(acc, accOff + c + 2 * L);
            a3.intoArray(acc, accOff + c + 3 * L);
            a4.intoArray(acc, accOff + c + 4 * L);
            a5.intoArray(acc, accOff + c + 5 * L);
            a6.intoArray(acc, accOff + c + 6 * L);
            a7.intoArray(acc, accOff + c + 7 * L);
        }
        for (; c + L <= d; c += L) {
            FloatVector a = FloatVector.fromArray(S, acc, accOff + c).mul(rs);
            for (int t = 0, base = c; t < tokens; t++, base += d) {
                a = FloatVector.fromArray(S, values, base).fma(FloatVector.broadcast(S, p[pOff + t]), a);
            }
            a.intoArray(acc, accOff + c);
        }
        for (; c < d; c++) {
            float a = acc[accOff + c] * rescale;
            for (int t = 0; t < tokens; t++) {
                a = Math.fma(p[pOff + t], values[t * d + c], a);
            }
            acc[accOff + c] = a;
        }
    }

    @Override
    public float dot(float[] q, int qOff, MemorySegment seg, long off, int d) {
        int c = 0;
        FloatVector a = FloatVector.zero(S);
        for (; c + L <= d; c += L) {
            a = FloatVector.fromMemorySegment(S, seg, off + 4L * c, ByteOrder.nativeOrder())
                    .fma(FloatVector.fromArray(S, q, qOff + c), a);
        }
        float s = 0f;
        for (int i = 0; i < L; i++) {
            s += a.lane(i); // fixed order: reduceLanes(ADD) may reassociate differently once compiled
        }
        for (; c < d; c++) {
            s += q[qOff + c] * seg.get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, off + 4L * c);
        }
        return s;
    }

    @Override
    public void axpy(float p, MemorySegment seg, long off, int d, float[] acc, int accOff) {
        int c = 0;
        FloatVector w = FloatVector.broadcast(S, p);
        for (; c + L <= d; c += L) {
            FloatVector.fromMemorySegment(S, seg, off + 4L * c, ByteOrder.nativeOrder())
                    .fma(w, FloatVector.fromArray(S, acc, accOff + c)).intoArray(acc, accOff + c);
        }
        for (; c < d; c++) {
            acc[accOff + c] += p * seg.get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, off + 4L * c);
        }
    }

    @Override
    public String name() {
        return "Vector API " + S.vectorBitSize() + "-bit";
    }
}
