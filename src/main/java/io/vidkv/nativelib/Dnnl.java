package io.vidkv.nativelib;

import io.vidkv.bindings.dnnl.Dnnl_h;
import io.vidkv.bindings.dnnl.dnnl_version_t;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * oneDNN on the CPU: one engine, one stream per calling thread, and caches of matmul and reorder
 * primitives keyed by their full shape (sizes, data types, transposition, leading dimensions,
 * alpha/beta attributes). Primitives execute on caller segments in place: oneDNN memory objects
 * wrap the segments' addresses, nothing is copied.
 *
 * <p>Thread-safety: every method may be called from any thread. Primitives run concurrently
 * (each thread gets its own stream, and scratchpads are per call). {@link #close()} waits for
 * executions in flight, then destroys primitives, streams and the engine; later use throws
 * {@link IllegalStateException}.
 */
public final class Dnnl implements AutoCloseable {

    private final MemorySegment engine;
    private final CloseGuard guard = new CloseGuard("Dnnl");
    private final ConcurrentHashMap<MatmulShape, Matmul> matmuls = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Reorder.Key, Reorder> reorders = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<MemorySegment> streams = new CopyOnWriteArrayList<>();
    private final ThreadLocal<MemorySegment> threadStream = new ThreadLocal<>();

    private Dnnl(MemorySegment engine) {
        this.engine = engine;
    }

    /** Creates the CPU engine. */
    public static Dnnl create() {
        NativeLibraries.dnnl(); // fail with the loader's message, not a class-init error
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            check("dnnl_engine_create", Dnnl_h.dnnl_engine_create(out, Dnnl_h.dnnl_cpu(), 0L), null);
            return new Dnnl(out.get(ValueLayout.ADDRESS, 0));
        }
    }

    /** oneDNN's version, e.g. {@code 3.8.1 (git 1234abc, CPU runtime OpenMP)}. */
    public static String version() {
        NativeLibraries.dnnl();
        MemorySegment v = Dnnl_h.dnnl_version().reinterpret(dnnl_version_t.layout().byteSize());
        String hash = dnnl_version_t.hash(v).reinterpret(64).getString(0);
        int runtime = dnnl_version_t.cpu_runtime(v);
        String rt = runtime == Dnnl_h.DNNL_RUNTIME_OMP() ? "OpenMP" : runtime == Dnnl_h.DNNL_RUNTIME_SEQ() ? "sequential"
                : runtime == Dnnl_h.DNNL_RUNTIME_TBB() ? "TBB" : "runtime " + runtime;
        return dnnl_version_t.major(v) + "." + dnnl_version_t.minor(v) + "." + dnnl_version_t.patch(v)
                + " (git " + hash + ", CPU runtime " + rt + ")";
    }

    /** The instruction set oneDNN's JIT targets on this CPU, e.g. {@code avx2}. */
    public static String cpuIsa() {
        NativeLibraries.dnnl();
        int isa = Dnnl_h.dnnl_get_effective_cpu_isa();
        if (isa == Dnnl_h.dnnl_cpu_isa_avx512_core_amx_fp16()) return "avx512_core_amx_fp16";
        if (isa == Dnnl_h.dnnl_cpu_isa_avx512_core_amx()) return "avx512_core_amx";
        if (isa == Dnnl_h.dnnl_cpu_isa_avx512_core_fp16()) return "avx512_core_fp16";
        if (isa == Dnnl_h.dnnl_cpu_isa_avx512_core_bf16()) return "avx512_core_bf16";
        if (isa == Dnnl_h.dnnl_cpu_isa_avx512_core_vnni()) return "avx512_core_vnni";
        if (isa == Dnnl_h.dnnl_cpu_isa_avx512_core()) return "avx512_core";
        if (isa == Dnnl_h.dnnl_cpu_isa_avx2_vnni_2()) return "avx2_vnni_2";
        if (isa == Dnnl_h.dnnl_cpu_isa_avx2_vnni()) return "avx2_vnni";
        if (isa == Dnnl_h.dnnl_cpu_isa_avx2()) return "avx2";
        if (isa == Dnnl_h.dnnl_cpu_isa_avx()) return "avx";
        if (isa == Dnnl_h.dnnl_cpu_isa_sse41()) return "sse41";
        return "isa-0x" + Integer.toHexString(isa);
    }

    /** The cached matmul primitive for {@code shape}, created now if needed. */
    public Matmul matmul(MatmulShape shape) {
        guard.checkOpen();
        Matmul m = matmuls.get(shape);
        return m != null ? m : matmuls.computeIfAbsent(shape, s -> Matmul.create(this, s));
    }

    /** The cached reorder (element type conversion) of {@code elements} contiguous values. */
    public Reorder reorder(DnnlDataType from, DnnlDataType to, long elements) {
        guard.checkOpen();
        Reorder.Key key = new Reorder.Key(from, to, elements);
        Reorder r = reorders.get(key);
        return r != null ? r : reorders.computeIfAbsent(key, k -> Reorder.create(this, k));
    }

    /**
     * Whether a bf16 x bf16 -> f32 matmul runs on an optimized kernel here: oneDNN is asked for the
     * primitive; false if it has none for this CPU ({@code dnnl_unimplemented}, e.g. plain AVX2)
     * or only its slow reference code.
     */
    public boolean supportsBf16Matmul() {
        try {
            String impl = matmul(MatmulShape.of(16, 32, 16, DnnlDataType.BF16, false, false)).implementation();
            return !impl.startsWith("ref");
        } catch (DnnlException e) {
            if (e.status() == Dnnl_h.dnnl_unimplemented()) {
                return false;
            }
            throw e;
        }
    }

    public int cachedPrimitiveCount() {
        return matmuls.size() + reorders.size();
    }

    MemorySegment engine() {
        return engine;
    }

    CloseGuard guard() {
        return guard;
    }

    /** This thread's stream (oneDNN streams are not thread-safe). */
    MemorySegment stream() {
        MemorySegment s = threadStream.get();
        if (s == null) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ValueLayout.ADDRESS);
                check("dnnl_stream_create", Dnnl_h.dnnl_stream_create(out, engine, Dnnl_h.dnnl_stream_default_flags()), null);
                s = out.get(ValueLayout.ADDRESS, 0);
            }
            streams.add(s);
            threadStream.set(s);
        }
        return s;
    }

    /** Waits for executions in flight, then frees every primitive, stream and the engine. Idempotent. */
    @Override
    public void close() {
        if (!guard.closeAndAwait()) {
            return;
        }
        List<Matmul> ms = List.copyOf(matmuls.values());
        matmuls.clear();
        ms.forEach(Matmul::destroy);
        List<Reorder> rs = List.copyOf(reorders.values());
        reorders.clear();
        rs.forEach(Reorder::destroy);
        for (MemorySegment s : streams) {
            Dnnl_h.dnnl_stream_destroy(s);
        }
        streams.clear();
        Dnnl_h.dnnl_engine_destroy(engine);
    }

    static void check(String call, int status, String context) {
        if (status != Dnnl_h.dnnl_success()) {
            throw new DnnlException(call, status, statusName(status), context);
        }
    }

    static String statusName(int status) {
        if (status == Dnnl_h.dnnl_success()) return "dnnl_success";
        if (status == Dnnl_h.dnnl_out_of_memory()) return "dnnl_out_of_memory";
        if (status == Dnnl_h.dnnl_invalid_arguments()) return "dnnl_invalid_arguments";
        if (status == Dnnl_h.dnnl_unimplemented()) return "dnnl_unimplemented";
        if (status == Dnnl_h.dnnl_last_impl_reached()) return "dnnl_last_impl_reached";
        if (status == Dnnl_h.dnnl_runtime_error()) return "dnnl_runtime_error";
        if (status == Dnnl_h.dnnl_not_required()) return "dnnl_not_required";
        if (status == Dnnl_h.dnnl_invalid_graph()) return "dnnl_invalid_graph";
        if (status == Dnnl_h.dnnl_invalid_graph_op()) return "dnnl_invalid_graph_op";
        if (status == Dnnl_h.dnnl_invalid_shape()) return "dnnl_invalid_shape";
        if (status == Dnnl_h.dnnl_invalid_data_type()) return "dnnl_invalid_data_type";
        return "dnnl_status_" + status;
    }

    static void checkSegment(String what, MemorySegment s, long need) {
        if (!s.isNative()) {
            throw new IllegalArgumentException(what + " must be a native segment (oneDNN cannot read heap arrays)");
        }
        if (!s.scope().isAlive()) {
            throw new IllegalStateException(what + " segment's arena is closed");
        }
        if (s.byteSize() < need) {
            throw new IllegalArgumentException(what + " segment has " + s.byteSize() + " bytes, needs " + need);
        }
    }
}
