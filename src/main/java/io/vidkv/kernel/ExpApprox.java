package io.vidkv.kernel;

/**
 * exp(x) for x <= 0 (softmax weights exp(s - max)), by the Cephes expf scheme: x = n ln2 + r with
 * |r| <= ln2 / 2, a degree-6 polynomial for exp(r) (about 1 ulp), and 2^n through the exponent bits.
 * Written with plain IEEE multiply, add and fused multiply-add only, so the scalar and the Vector API
 * versions give the same bits whether the JIT has compiled them or not; the JDK's vector EXP
 * intrinsic does not (its SVML result differs from the interpreter's in the last bit), which would
 * make results depend on thread count and warm-up. Inputs below {@link #MIN_X} give exactly 0.
 */
final class ExpApprox {

    static final float MIN_X = -87f;
    static final float LOG2E = 1.44269504088896341f;
    static final float LN2_HI = 0.693359375f;
    static final float LN2_LO = -2.12194440e-4f;
    static final float P0 = 1.9875691500e-4f;
    static final float P1 = 1.3981999507e-3f;
    static final float P2 = 8.3334519073e-3f;
    static final float P3 = 4.1665795894e-2f;
    static final float P4 = 1.6666665459e-1f;
    static final float P5 = 5.0000001201e-1f;

    private ExpApprox() {
    }

    /** exp(x) for x <= 0. */
    static float exp(float x) {
        if (!(x >= MIN_X)) {
            return 0f;
        }
        int n = -(int) (0.5f - x * LOG2E);
        float fn = n;
        float r = Math.fma(fn, -LN2_HI, x);
        r = Math.fma(fn, -LN2_LO, r);
        float p = Math.fma(P0, r, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float y = Math.fma(p, r * r, r) + 1f;
        return y * Float.intBitsToFloat((n + 127) << 23);
    }
}
