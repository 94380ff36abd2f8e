package io.vidkv.kernel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Plain-Java {@link AttentionMath}: the fallback without the Vector API, and the readable spec. */
final class ScalarAttentionMath implements AttentionMath {

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    @Override
    public void scores(float[] rows, int rowCount, int tokens, float[] q, int qOff, float[] out, int outOff) {
        java.util.Arrays.fill(out, outOff, outOff + tokens, 0f);
        for (int r = 0; r < rowCount; r++) {
            float qr = q[qOff + r];
            int base = r * tokens;
            for (int t = 0; t < tokens; t++) {
                out[outOff + t] = Math.fma(qr, rows[base + t], out[outOff + t]);
            }
        }
    }

    @Override
    public void scores2(float[] rows, int rowCount, int tokens, float[] q, int qOff0, int qOff1, float[] out,
                        int outOff0, int outOff1) {
        scores(rows, rowCount, tokens, q, qOff0, out, outOff0);
        scores(rows, rowCount, tokens, q, qOff1, out, outOff1);
    }

    @Override
    public float max(float[] x, int off, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = off; i < off + n; i++) {
            m = Math.max(m, x[i]);
        }
        return m;
    }

    @Override
    public float expShiftSum(float[] x, int off, int n, float shift) {
        float sum = 0f;
        for (int i = off; i < off + n; i++) {
            float e = ExpApprox.exp(x[i] - shift);
            x[i] = e;
            sum += e;
        }
        return sum;
    }

    @Override
    public void accumulate(float[] values, int tokens, int d, float[] p, int pOff, float rescale, float[] acc, int accOff) {
        if (rescale != 1f) {
            for (int c = 0; c < d; c++) {
                acc[accOff + c] *= rescale;
            }
        }
        for (int t = 0; t < tokens; t++) {
            float w = p[pOff + t];
            if (w == 0f) {
                continue;
            }
            int base = t * d;
            for (int c = 0; c < d; c++) {
                acc[accOff + c] = Math.fma(w, values[base + c], acc[accOff + c]);
            }
        }
    }

    @Override
    public float dot(float[] q, int qOff, MemorySegment seg, long off, int d) {
        float s = 0f;
        for (int c = 0; c < d; c++) {
            s += q[qOff + c] * seg.get(F, off + 4L * c);
        }
        return s;
    }

    @Override
    public void axpy(float p, MemorySegment seg, long off, int d, float[] acc, int accOff) {
        for (int c = 0; c < d; c++) {
            acc[accOff + c] += p * seg.get(F, off + 4L * c);
        }
    }

    @Override
    public String name() {
        return "scalar";
    }
}
