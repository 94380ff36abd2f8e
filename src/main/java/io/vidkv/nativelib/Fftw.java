package io.vidkv.nativelib;

import io.vidkv.bindings.fftw.Fftw3f;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Batched real FFTs over caller-owned off-heap segments, through FFTW 3.3.10 single precision.
 *
 * <p>Plans are made once per {@link RealFftPlan.Shape} and cached here. FFTW's planner keeps
 * global state and is not thread-safe, so all planning in the process is serialized on one lock;
 * execution needs no lock and runs concurrently (FFTW's new-array execute functions are
 * thread-safe). {@link #close()} waits for executions in flight, then destroys every plan; any
 * later use throws {@link IllegalStateException}.
 *
 * <p>Alignment: plans are made on {@value #ALIGNMENT}-byte aligned arrays, so FFTW may choose
 * AVX codelets; every array passed to {@link RealFftPlan#execute} must be aligned the same way
 * (checked). {@link #allocate(Arena, long)} gives such segments.
 */
public final class Fftw implements AutoCloseable {

    /** Byte alignment required of every array passed to a plan. */
    public static final int ALIGNMENT = 32;

    /** How hard FFTW searches for a fast plan (FFTW_ESTIMATE, _MEASURE, _PATIENT). */
    public enum Rigor { ESTIMATE, MEASURE, PATIENT }

    /** FFTW's planner is process-global state: one lock for every Fftw instance. */
    private static final ReentrantLock PLANNER = new ReentrantLock();

    private final Rigor rigor;
    private final CloseGuard guard = new CloseGuard("Fftw");
    private final ConcurrentHashMap<RealFftPlan.Shape, RealFftPlan> plans = new ConcurrentHashMap<>();

    private Fftw(Rigor rigor) {
        this.rigor = rigor;
    }

    /** Plans with {@link Rigor#MEASURE}: slower planning, faster transforms. */
    public static Fftw create() {
        return create(Rigor.MEASURE);
    }

    public static Fftw create(Rigor rigor) {
        NativeLibraries.fftw3f(); // fail with the loader's message, not a class-init error
        return new Fftw(rigor);
    }

    /** FFTW's own version string, e.g. {@code fftw-3.3.10-sse2-avx}. */
    public static String version() {
        // fftwf_version is `const char[]` of unspecified length, which jextract cannot bind.
        return NativeLibraries.fftw3f().findOrThrow("fftwf_version").reinterpret(256).getString(0);
    }

    /** A zero-filled segment of {@code floats} floats at {@link #ALIGNMENT}. */
    public static MemorySegment allocate(Arena arena, long floats) {
        if (floats <= 0) {
            throw new IllegalArgumentException("float count must be positive, got " + floats);
        }
        return arena.allocate(floats * Float.BYTES, ALIGNMENT);
    }

    /** Forward plan for {@code batch} contiguous rows of length {@code n}. */
    public RealFftPlan forward(int n, int batch) {
        return plan(RealFftPlan.Shape.contiguous(RealFftPlan.Direction.FORWARD, n, batch));
    }

    /** Inverse plan for {@code batch} contiguous rows of length {@code n}. */
    public RealFftPlan inverse(int n, int batch) {
        return plan(RealFftPlan.Shape.contiguous(RealFftPlan.Direction.INVERSE, n, batch));
    }

    /** The cached plan for {@code shape}, made now if needed. */
    public RealFftPlan plan(RealFftPlan.Shape shape) {
        guard.checkOpen();
        RealFftPlan p = plans.get(shape);
        return p != null ? p : plans.computeIfAbsent(shape, this::makePlan);
    }

    /** Number of cached plans. */
    public int planCount() {
        return plans.size();
    }

    private RealFftPlan makePlan(RealFftPlan.Shape s) {
        int flags = switch (rigor) {
            case ESTIMATE -> Fftw3f.FFTW_ESTIMATE();
            case MEASURE -> Fftw3f.FFTW_MEASURE();
            case PATIENT -> Fftw3f.FFTW_PATIENT();
        };
        boolean forward = s.direction() == RealFftPlan.Direction.FORWARD;
        if (!forward) {
            flags |= Fftw3f.FFTW_PRESERVE_INPUT(); // supported for rank-1 c2r; callers keep their spectra
        }
        PLANNER.lock();
        try (Arena arena = Arena.ofConfined()) {
            guard.checkOpen();
            // Planning arrays are our own: MEASURE/PATIENT overwrite them while timing.
            MemorySegment real = arena.allocate(s.realBytes(), ALIGNMENT);
            MemorySegment spectral = arena.allocate(s.complexBytes(), ALIGNMENT);
            MemorySegment n = arena.allocateFrom(ValueLayout.JAVA_INT, s.n());
            MemorySegment plan = forward
                    ? Fftw3f.fftwf_plan_many_dft_r2c(1, n, s.batch(), real, MemorySegment.NULL, s.realStride(),
                            s.realDist(), spectral, MemorySegment.NULL, s.complexStride(), s.complexDist(), flags)
                    : Fftw3f.fftwf_plan_many_dft_c2r(1, n, s.batch(), spectral, MemorySegment.NULL, s.complexStride(),
                            s.complexDist(), real, MemorySegment.NULL, s.realStride(), s.realDist(), flags);
            if (plan.equals(MemorySegment.NULL)) {
                throw new IllegalArgumentException("FFTW could not plan " + s);
            }
            return new RealFftPlan(s, plan, guard);
        } finally {
            PLANNER.unlock();
        }
    }

    /** Waits for executions in flight, then destroys every plan. Idempotent. */
    @Override
    public void close() {
        if (!guard.closeAndAwait()) {
            return;
        }
        PLANNER.lock();
        try {
            List<RealFftPlan> all = List.copyOf(plans.values());
            plans.clear();
            for (RealFftPlan p : all) {
                Fftw3f.fftwf_destroy_plan(p.handle());
            }
        } finally {
            PLANNER.unlock();
        }
    }
}
