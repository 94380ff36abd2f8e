package io.vidkv.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

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

    static float rowMax(float[] x, int off, int n) {
        int i = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (n >= L) {
            FloatVector v = at(x, off);
            for (i = L; i + L <= n; i += L) {
                v = v.max(at(x, off + i));
            }
            m = v.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) {
            m = Math.max(m, x[off + i]);
        }
        return m;
    }

    static float rowExpSum(float[] x, int off, int n, float shift) {
        int i = 0;
        for (; i + L <= n; i += L) { // the exp of expAndSum, with a scalar shift
            FloatVector v = at(x, off + i).sub(shift);
            VectorMask<Float> underflow = v.compare(VectorOperators.LT, ExpApprox.MIN_X).or(v.test(VectorOperators.IS_NAN));
            FloatVector xc = v.max(ExpApprox.MIN_X);
            IntVector e = ((IntVector) FloatVector.broadcast(F, 0.5f).sub(xc.mul(ExpApprox.LOG2E))
                    .convert(VectorOperators.F2I, 0)).neg();
            FloatVector fn = (FloatVector) e.convert(VectorOperators.I2F, 0);
            FloatVector r = fn.fma(FloatVector.broadcast(F, -ExpApprox.LN2_HI), xc);
            r = fn.fma(FloatVector.broadcast(F, -ExpApprox.LN2_LO), r);
            FloatVector q = FloatVector.broadcast(F, ExpApprox.P0).fma(r, FloatVector.broadcast(F, ExpApprox.P1));
            q = q.fma(r, FloatVector.broadcast(F, ExpApprox.P2));
            q = q.fma(r, FloatVector.broadcast(F, ExpApprox.P3));
            q = q.fma(r, FloatVector.broadcast(F, ExpApprox.P4));
            q = q.fma(r, FloatVector.broadcast(F, ExpApprox.P5));
            FloatVector y = q.fma(r.mul(r), r).add(1f);
            FloatVector pow2 = e.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector p = y.mul(pow2).blend(0f, underflow);
            p.intoArray(x, off + i);
        }
        FloatVector sum = FloatVector.broadcast(F, 0f);
        for (int j = 0; j + L <= n; j += L) { // after the exps: no vector live across the loop above
            sum = sum.add(at(x, off + j));
        }
        float s = ((sum.lane(0) + sum.lane(1)) + (sum.lane(2) + sum.lane(3))) + ((sum.lane(4) + sum.lane(5)) + (sum.lane(6) + sum.lane(7)));
        for (; i < n; i++) {
            float e = ExpApprox.exp(x[off + i] - shift);
            x[off + i] = e;
            s += e;
        }
        return s;
    }
}
