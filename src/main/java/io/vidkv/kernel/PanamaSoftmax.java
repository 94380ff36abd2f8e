package io.vidkv.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static io.vidkv.kernel.KernelMath.LANES;

/**
 * The softmax loops of {@link PanamaKernelMath}: a decode block's online-softmax step with the query
 * heads in the 8 lanes, and a prefill score row. The exp is {@link ExpApprox#exp} lane by lane,
 * written out in both loops: a helper returning a vector boxed it at a cold call site, and one
 * working on arrays pushed the Vector API's own calls past C2's inlining depth (KERNEL-NOTES.md).
 */
final class PanamaSoftmax {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    private static final int L = LANES;

    private PanamaSoftmax() {
    }

    private static FloatVector at(float[] a, int i) {
        return FloatVector.fromArray(F, a, i);
    }

    static void softmax(float[] scores, int visible, int tokens, float[] m, float[] l, float[] rescale) {
        // Three small methods rather than one: C2 stops inlining inside a method it has already made
        // big, and a Vector API call it does not inline boxes its vectors (KERNEL-NOTES.md).
        blockMax(scores, visible, m, rescale);
        for (int j = 0; j < L; j++) { // one exp per lane and block: the scalar ExpApprox, same bits as the lanes
            rescale[j] = ExpApprox.exp(rescale[j] - m[j]);
        }
        java.util.Arrays.fill(scores, visible * L, tokens * L, 0f);
        expAndSum(scores, visible, m, l, rescale);
    }

    /** The old max to rescale[], max(old, max_t scores) to m[]. */
    private static void blockMax(float[] scores, int visible, float[] m, float[] rescale) {
        FloatVector bm = at(scores, 0);
        for (int t = 1; t < visible; t++) {
            bm = bm.max(at(scores, t * L));
        }
        System.arraycopy(m, 0, rescale, 0, L);
        at(m, 0).max(bm).intoArray(m, 0);
    }

    /** scores = exp(scores - m) for t < visible (ExpApprox.exp per lane), l = l * rescale + their sum. */
    private static void expAndSum(float[] scores, int visible, float[] m, float[] l, float[] rescale) {
        FloatVector sum = FloatVector.broadcast(F, 0f);
        for (int t = 0; t < visible; t++) {
            // ExpApprox.exp lane by lane, written out: a helper returning a vector boxed it, and one
            // working on arrays pushed the Vector API calls past C2's inlining depth (KERNEL-NOTES.md)
            FloatVector x = at(scores, t * L).sub(at(m, 0));
            VectorMask<Float> underflow = x.compare(VectorOperators.LT, ExpApprox.MIN_X).or(x.test(VectorOperators.IS_NAN));
            FloatVector xc = x.max(ExpApprox.MIN_X);
            IntVector n = ((IntVector) FloatVector.broadcast(F, 0.5f).sub(xc.mul(ExpApprox.LOG2E))
                    .convert(VectorOperators.F2I, 0)).neg();
            FloatVector fn = (FloatVector) n.convert(VectorOperators.I2F, 0);
            FloatVector r = fn.fma(FloatVector.broadcast(F, -ExpApprox.LN2_HI), xc);
            r = fn.fma(FloatVector.broadcast(F, -ExpApprox.LN2_LO), r);
            FloatVector q = FloatVector.broadcast(F, ExpApprox.P0).fma(r, FloatVector.broadcast(F, ExpApprox.P1));
            q = q.fma(r, FloatVector.broadcast(F, ExpApprox.P2));
            q = q.fma(r, FloatVector.broadcast(F, ExpApprox.P3));
            q = q.fma(r, FloatVector.broadcast(F, ExpApprox.P4));
            q = q.fma(r, FloatVector.broadcast(F, ExpApprox.P5));
            FloatVector y = q.fma(r.mul(r), r).add(1f);
            FloatVector pow2 = n.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector p = y.mul(pow2).blend(0f, underflow);
            p.intoArray(scores, t * L);
            sum = sum.add(p);
        }
        at(l, 0).mul(at(rescale, 0)).add(sum).intoArray(l, 0);
    }

    private static FloatVector at(MemorySegment tile, long off) {
        return FloatVector.fromMemorySegment(F, tile, off, ByteOrder.nativeOrder());
    }

    static float tileRowMax(MemorySegment tile, long off, int n) {
        // Four independent maxima: a Java-semantics max (NaN, -0.0) is several instructions, and one
        // chain of them ran at a quarter of the speed. max is order-independent, so the result is
        // the same as one chain's (and the plain-Java body's).
        int i = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (n >= 4 * L) {
            FloatVector m0 = at(tile, off), m1 = at(tile, off + 4L * L), m2 = at(tile, off + 8L * L), m3 = at(tile, off + 12L * L);
            for (i = 4 * L; i + 4 * L <= n; i += 4 * L) {
                long at = off + 4L * i;
                m0 = m0.max(at(tile, at));
                m1 = m1.max(at(tile, at + 4L * L));
                m2 = m2.max(at(tile, at + 8L * L));
                m3 = m3.max(at(tile, at + 12L * L));
            }
            m = m0.max(m1).max(m2.max(m3)).reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) {
            m = Math.max(m, tile.get(ValueLayout.JAVA_FLOAT, off + 4L * i));
        }
        return m;
    }

    /** {@link KernelMath#tileRowExp}, 8 lanes: accumulator a holds partial[0..8), b partial[8..16). */
    static int tileRowExp256(MemorySegment tile, long off, int from, int to, float shift, float[] partial) {
        final VectorSpecies<Float> S = FloatVector.SPECIES_256;
        FloatVector suma = FloatVector.fromArray(S, partial, 0), sumb = FloatVector.fromArray(S, partial, 8);
        int i = from;
        for (; i < to; i += 16) {
            long at = off + 4L * i;
            FloatVector xca = FloatVector.fromMemorySegment(S, tile, at, ByteOrder.nativeOrder()).sub(shift);
            FloatVector xcb = FloatVector.fromMemorySegment(S, tile, at + 32, ByteOrder.nativeOrder()).sub(shift);
            if (xca.compare(VectorOperators.GT, 0f).or(xcb.compare(VectorOperators.GT, 0f)).anyTrue()) {
                break; // a score above the shift: the caller raises it
            }
            VectorMask<Float> kepta = xca.compare(VectorOperators.GE, ExpApprox.MIN_X);
            IntVector ea = ((IntVector) FloatVector.broadcast(S, 0.5f).sub(xca.mul(ExpApprox.LOG2E))
                    .convert(VectorOperators.F2I, 0)).neg();
            FloatVector fna = (FloatVector) ea.convert(VectorOperators.I2F, 0);
            FloatVector ra = fna.fma(FloatVector.broadcast(S, -ExpApprox.LN2_HI), xca);
            ra = fna.fma(FloatVector.broadcast(S, -ExpApprox.LN2_LO), ra);
            FloatVector qa = FloatVector.broadcast(S, ExpApprox.P0).fma(ra, FloatVector.broadcast(S, ExpApprox.P1));
            qa = qa.fma(ra, FloatVector.broadcast(S, ExpApprox.P2));
            qa = qa.fma(ra, FloatVector.broadcast(S, ExpApprox.P3));
            qa = qa.fma(ra, FloatVector.broadcast(S, ExpApprox.P4));
            qa = qa.fma(ra, FloatVector.broadcast(S, ExpApprox.P5));
            FloatVector ya = qa.fma(ra.mul(ra), ra).add(1f);
            FloatVector pow2a = ea.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector pa = FloatVector.broadcast(S, 0f).blend(ya.mul(pow2a), kepta);
            VectorMask<Float> keptb = xcb.compare(VectorOperators.GE, ExpApprox.MIN_X);
            IntVector eb = ((IntVector) FloatVector.broadcast(S, 0.5f).sub(xcb.mul(ExpApprox.LOG2E))
                    .convert(VectorOperators.F2I, 0)).neg();
            FloatVector fnb = (FloatVector) eb.convert(VectorOperators.I2F, 0);
            FloatVector rb = fnb.fma(FloatVector.broadcast(S, -ExpApprox.LN2_HI), xcb);
            rb = fnb.fma(FloatVector.broadcast(S, -ExpApprox.LN2_LO), rb);
            FloatVector qb = FloatVector.broadcast(S, ExpApprox.P0).fma(rb, FloatVector.broadcast(S, ExpApprox.P1));
            qb = qb.fma(rb, FloatVector.broadcast(S, ExpApprox.P2));
            qb = qb.fma(rb, FloatVector.broadcast(S, ExpApprox.P3));
            qb = qb.fma(rb, FloatVector.broadcast(S, ExpApprox.P4));
            qb = qb.fma(rb, FloatVector.broadcast(S, ExpApprox.P5));
            FloatVector yb = qb.fma(rb.mul(rb), rb).add(1f);
            FloatVector pow2b = eb.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector pb = FloatVector.broadcast(S, 0f).blend(yb.mul(pow2b), keptb);
            pa.intoMemorySegment(tile, at, ByteOrder.nativeOrder());
            pb.intoMemorySegment(tile, at + 32, ByteOrder.nativeOrder());
            suma = suma.add(pa);
            sumb = sumb.add(pb);
        }
        suma.intoArray(partial, 0);
        sumb.intoArray(partial, 8);
        return i;
    }

    /** {@link KernelMath#tileRowExp}, 16 lanes: lane k of the accumulator is partial[k]. */
    static int tileRowExp512(MemorySegment tile, long off, int from, int to, float shift, float[] partial) {
        final VectorSpecies<Float> S = FloatVector.SPECIES_512;
        FloatVector sum = FloatVector.fromArray(S, partial, 0);
        int i = from;
        for (; i < to; i += 16) {
            long at = off + 4L * i;
            FloatVector xc = FloatVector.fromMemorySegment(S, tile, at, ByteOrder.nativeOrder()).sub(shift);
            if (xc.compare(VectorOperators.GT, 0f).anyTrue()) {
                break; // a score above the shift: the caller raises it
            }
            VectorMask<Float> kept = xc.compare(VectorOperators.GE, ExpApprox.MIN_X);
            IntVector e = ((IntVector) FloatVector.broadcast(S, 0.5f).sub(xc.mul(ExpApprox.LOG2E))
                    .convert(VectorOperators.F2I, 0)).neg();
            FloatVector fn = (FloatVector) e.convert(VectorOperators.I2F, 0);
            FloatVector r = fn.fma(FloatVector.broadcast(S, -ExpApprox.LN2_HI), xc);
            r = fn.fma(FloatVector.broadcast(S, -ExpApprox.LN2_LO), r);
            FloatVector q = FloatVector.broadcast(S, ExpApprox.P0).fma(r, FloatVector.broadcast(S, ExpApprox.P1));
            q = q.fma(r, FloatVector.broadcast(S, ExpApprox.P2));
            q = q.fma(r, FloatVector.broadcast(S, ExpApprox.P3));
            q = q.fma(r, FloatVector.broadcast(S, ExpApprox.P4));
            q = q.fma(r, FloatVector.broadcast(S, ExpApprox.P5));
            FloatVector y = q.fma(r.mul(r), r).add(1f);
            FloatVector pow2 = e.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector p = FloatVector.broadcast(S, 0f).blend(y.mul(pow2), kept);
            p.intoMemorySegment(tile, at, ByteOrder.nativeOrder());
            sum = sum.add(p);
        }
        sum.intoArray(partial, 0);
        return i;
    }

    static void tileRowScale(MemorySegment tile, long off, int n, float factor) {
        int i = 0;
        for (; i + L <= n; i += L) {
            at(tile, off + 4L * i).mul(factor).intoMemorySegment(tile, off + 4L * i, ByteOrder.nativeOrder());
        }
        for (; i < n; i++) {
            long at = off + 4L * i;
            tile.set(ValueLayout.JAVA_FLOAT, at, tile.get(ValueLayout.JAVA_FLOAT, at) * factor);
        }
    }
}
