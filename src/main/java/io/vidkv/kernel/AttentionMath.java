package io.vidkv.kernel;

import java.lang.foreign.MemorySegment;

/**
 * The inner loops of attention over decoded blocks, in two implementations chosen once at startup
 * ({@link #INSTANCE}): {@link PanamaAttentionMath} (Vector API, the platform's preferred float
 * species: 256-bit on AVX2) or {@link ScalarAttentionMath} (plain Java). Both compute the same
 * function; only the float summation order differs.
 */
public interface AttentionMath {

    AttentionMath INSTANCE = VectorSupport.ENABLED ? new PanamaAttentionMath() : new ScalarAttentionMath();

    /** out[outOff + t] = sum_r q[qOff + r] * rows[r * tokens + t], for t < tokens (tokens % 8 == 0). */
    void scores(float[] rows, int rowCount, int tokens, float[] q, int qOff, float[] out, int outOff);

    /** {@link #scores} for two queries at once (the row loads are shared). */
    void scores2(float[] rows, int rowCount, int tokens, float[] q, int qOff0, int qOff1, float[] out, int outOff0, int outOff1);

    /** max of x[off .. off + n). */
    float max(float[] x, int off, int n);

    /** x[i] = exp(x[i] - shift) for i in [off, off + n); returns their sum. */
    float expShiftSum(float[] x, int off, int n, float shift);

    /** acc[accOff + c] = acc[accOff + c] * rescale + sum_t p[pOff + t] * values[t * d + c]. */
    void accumulate(float[] values, int tokens, int d, float[] p, int pOff, float rescale, float[] acc, int accOff);

    /** sum_c q[qOff + c] * k[c], k read as d floats from {@code seg} at byte offset {@code off}. */
    float dot(float[] q, int qOff, MemorySegment seg, long off, int d);

    /** acc[accOff + c] += p * v[c], v read as d floats from {@code seg} at byte offset {@code off}. */
    void axpy(float p, MemorySegment seg, long off, int d, float[] acc, int accOff);

    /** Name for reports. */
    String name();
}
