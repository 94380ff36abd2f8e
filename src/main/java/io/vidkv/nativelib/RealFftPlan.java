package io.vidkv.nativelib;

import io.vidkv.bindings.fftw.Fftw3f;

import java.lang.foreign.MemorySegment;

/**
 * A cached FFTW plan for a batch of 1-D real transforms of length {@code n}, created by {@link Fftw}.
 *
 * <p>Layouts (strides and distances count elements: floats on the real side, complex pairs of
 * floats on the spectral side, as in FFTW's advanced interface):
 * <ul>
 *   <li>real row {@code b}: {@code x[b*realDist + i*realStride]}, {@code i < n};
 *   <li>spectral row {@code b}: {@code X[b*complexDist + j*complexStride]}, {@code j <= n/2},
 *       each an interleaved (re, im) float pair.
 * </ul>
 * A {@link Direction#FORWARD} plan maps real to spectral (unnormalized DFT); an
 * {@link Direction#INVERSE} plan maps spectral to real (unnormalized, so a round trip scales by
 * {@code n}) and preserves its input.
 *
 * <p>{@link #execute} is thread-safe and may run concurrently from many threads (FFTW's new-array
 * execute functions); it checks every segment before the native call. Both segments must be
 * native, alive, large enough, non-overlapping and {@value Fftw#ALIGNMENT}-byte aligned (the plan
 * was made on aligned arrays and FFTW's SIMD codelets require the same alignment at execution).
 */
public final class RealFftPlan {

    /** Transform direction. */
    public enum Direction { FORWARD, INVERSE }

    /** Everything that identifies a plan; also its cache key. */
    public record Shape(Direction direction, int n, int batch, int realStride, int realDist,
                        int complexStride, int complexDist) {
        public Shape {
            positive("n", n);
            positive("batch", batch);
            positive("realStride", realStride);
            positive("realDist", realDist);
            positive("complexStride", complexStride);
            positive("complexDist", complexDist);
            if (realElements(n, batch, realStride, realDist) > Integer.MAX_VALUE
                    || complexElements(n, batch, complexStride, complexDist) > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("FFT shape too large for FFTW's int indexing: " + this);
            }
        }

        /** Contiguous rows: real rows of n floats, spectral rows of n/2+1 complex values. */
        public static Shape contiguous(Direction direction, int n, int batch) {
            positive("n", n);
            return new Shape(direction, n, batch, 1, n, 1, n / 2 + 1);
        }

        /** Bytes the real-side segment must hold. */
        public long realBytes() {
            return realElements(n, batch, realStride, realDist) * Float.BYTES;
        }

        /** Bytes the spectral-side segment must hold. */
        public long complexBytes() {
            return complexElements(n, batch, complexStride, complexDist) * 2L * Float.BYTES;
        }

        private static long realElements(int n, int batch, int stride, int dist) {
            return (long) (batch - 1) * dist + (long) (n - 1) * stride + 1;
        }

        private static long complexElements(int n, int batch, int stride, int dist) {
            return (long) (batch - 1) * dist + (long) (n / 2) * stride + 1;
        }

        private static void positive(String name, int v) {
            if (v <= 0) {
                throw new IllegalArgumentException("FFT " + name + " must be positive, got " + v);
            }
        }
    }

    private final Shape shape;
    private final MemorySegment plan;
    private final CloseGuard guard;

    RealFftPlan(Shape shape, MemorySegment plan, CloseGuard guard) {
        this.shape = shape;
        this.plan = plan;
        this.guard = guard;
    }

    public Shape shape() {
        return shape;
    }

    /**
     * Runs the transform: for {@link Direction#FORWARD}, {@code in} is real and {@code out}
     * spectral; for {@link Direction#INVERSE} the other way round.
     *
     * @throws IllegalArgumentException if a segment is on-heap, too small, misaligned or overlaps
     * @throws IllegalStateException    if a segment's arena or the owning {@link Fftw} is closed
     */
    public void execute(MemorySegment in, MemorySegment out) {
        boolean forward = shape.direction() == Direction.FORWARD;
        check("input", in, forward ? shape.realBytes() : shape.complexBytes());
        check("output", out, forward ? shape.complexBytes() : shape.realBytes());
        long inEnd = in.address() + in.byteSize();
        long outEnd = out.address() + out.byteSize();
        if (in.address() < outEnd && out.address() < inEnd) {
            throw new IllegalArgumentException("FFT input and output overlap (in-place execution of an out-of-place plan); shape " + shape);
        }
        guard.enter();
        try {
            if (forward) {
                Fftw3f.fftwf_execute_dft_r2c(plan, in, out);
            } else {
                Fftw3f.fftwf_execute_dft_c2r(plan, in, out);
            }
        } finally {
            guard.exit();
        }
    }

    private void check(String role, MemorySegment s, long need) {
        if (!s.isNative()) {
            throw new IllegalArgumentException("FFT " + role + " must be a native segment (heap segments cannot be passed to FFTW)");
        }
        if (!s.scope().isAlive()) {
            throw new IllegalStateException("FFT " + role + " segment's arena is closed");
        }
        if (s.byteSize() < need) {
            throw new IllegalArgumentException("FFT " + role + " segment has " + s.byteSize() + " bytes, the plan "
                    + shape + " needs " + need);
        }
        if (s.address() % Fftw.ALIGNMENT != 0) {
            throw new IllegalArgumentException("FFT " + role + " segment address 0x" + Long.toHexString(s.address())
                    + " is not " + Fftw.ALIGNMENT + "-byte aligned; allocate it with Fftw.allocate(arena, floats)");
        }
    }

    MemorySegment handle() {
        return plan;
    }
}
