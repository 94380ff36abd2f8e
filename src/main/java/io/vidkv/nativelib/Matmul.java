package io.vidkv.nativelib;

import io.vidkv.bindings.dnnl.Dnnl_h;
import io.vidkv.bindings.dnnl.dnnl_exec_arg_t;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A oneDNN matmul primitive for one {@link MatmulShape}, made by {@link Dnnl#matmul}. Executes
 * on caller segments without copying; thread-safe. Each execution wraps the three segments in
 * oneDNN memory objects and, if the primitive needs one, a per-call scratchpad (scratchpad mode
 * "user", so concurrent executions never share scratch memory). That costs a few small native
 * allocations per call: this is the prefill path (hundreds of microseconds and up per call), not
 * the per-token decode path.
 */
public final class Matmul {

    private final Dnnl dnnl;
    private final MatmulShape shape;
    private final MemorySegment mdA;
    private final MemorySegment mdB;
    private final MemorySegment mdC;
    private final MemorySegment primitiveDesc;
    private final MemorySegment primitive;
    private final MemorySegment scratchpadMd;
    private final long scratchpadBytes;
    private final String implementation;

    private Matmul(Dnnl dnnl, MatmulShape shape, MemorySegment mdA, MemorySegment mdB, MemorySegment mdC,
                   MemorySegment primitiveDesc, MemorySegment primitive, MemorySegment scratchpadMd,
                   long scratchpadBytes, String implementation) {
        this.dnnl = dnnl;
        this.shape = shape;
        this.mdA = mdA;
        this.mdB = mdB;
        this.mdC = mdC;
        this.primitiveDesc = primitiveDesc;
        this.primitive = primitive;
        this.scratchpadMd = scratchpadMd;
        this.scratchpadBytes = scratchpadBytes;
        this.implementation = implementation;
    }

    static Matmul create(Dnnl dnnl, MatmulShape s) {
        MemorySegment mdA = MemorySegment.NULL, mdB = MemorySegment.NULL, mdC = MemorySegment.NULL;
        MemorySegment attr = MemorySegment.NULL, postOps = MemorySegment.NULL, pd = MemorySegment.NULL;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            // A is [m,k]: row-major strides {lda,1}, or stored transposed: {1,lda}.
            mdA = memoryDesc(a, out, s.m(), s.k(), s.typeA(), s.transposeA() ? 1 : s.lda(), s.transposeA() ? s.lda() : 1);
            mdB = memoryDesc(a, out, s.k(), s.n(), s.typeB(), s.transposeB() ? 1 : s.ldb(), s.transposeB() ? s.ldb() : 1);
            mdC = memoryDesc(a, out, s.m(), s.n(), s.typeC(), s.ldc(), 1);

            Dnnl.check("dnnl_primitive_attr_create", Dnnl_h.dnnl_primitive_attr_create(out), null);
            attr = out.get(ValueLayout.ADDRESS, 0);
            Dnnl.check("dnnl_primitive_attr_set_scratchpad_mode",
                    Dnnl_h.dnnl_primitive_attr_set_scratchpad_mode(attr, Dnnl_h.dnnl_scratchpad_mode_user()), null);
            if (s.alpha() != 1f || s.beta() != 0f) {
                Dnnl.check("dnnl_post_ops_create", Dnnl_h.dnnl_post_ops_create(out), null);
                postOps = out.get(ValueLayout.ADDRESS, 0);
                // Order matters: linear scales A x B first, then sum adds beta * old C.
                if (s.alpha() != 1f) {
                    Dnnl.check("dnnl_post_ops_append_eltwise",
                            Dnnl_h.dnnl_post_ops_append_eltwise(postOps, Dnnl_h.dnnl_eltwise_linear(), s.alpha(), 0f), null);
                }
                if (s.beta() != 0f) {
                    Dnnl.check("dnnl_post_ops_append_sum",
                            Dnnl_h.dnnl_post_ops_append_sum(postOps, s.beta(), 0, Dnnl_h.dnnl_data_type_undef()), null);
                }
                Dnnl.check("dnnl_primitive_attr_set_post_ops", Dnnl_h.dnnl_primitive_attr_set_post_ops(attr, postOps), null);
            }
            Dnnl.check("dnnl_matmul_primitive_desc_create", Dnnl_h.dnnl_matmul_primitive_desc_create(
                    out, dnnl.engine(), mdA, mdB, MemorySegment.NULL, mdC, attr), s.toString());
            pd = out.get(ValueLayout.ADDRESS, 0);

            Dnnl.check("dnnl_primitive_desc_query", Dnnl_h.dnnl_primitive_desc_query(
                    pd, Dnnl_h.dnnl_query_impl_info_str(), 0, out), null);
            String impl = out.get(ValueLayout.ADDRESS, 0).reinterpret(256).getString(0);
            MemorySegment scratchMd = Dnnl_h.dnnl_primitive_desc_query_md(pd, Dnnl_h.dnnl_query_scratchpad_md(), 0);
            long scratchBytes = scratchMd.equals(MemorySegment.NULL) ? 0 : Dnnl_h.dnnl_memory_desc_get_size(scratchMd);

            Dnnl.check("dnnl_primitive_create", Dnnl_h.dnnl_primitive_create(out, pd), s.toString());
            MemorySegment prim = out.get(ValueLayout.ADDRESS, 0);
            Matmul m = new Matmul(dnnl, s, mdA, mdB, mdC, pd, prim, scratchMd, scratchBytes, impl);
            mdA = mdB = mdC = pd = MemorySegment.NULL; // owned by m now
            return m;
        } finally {
            destroyIfSet(postOps, Dnnl_h::dnnl_post_ops_destroy);
            destroyIfSet(attr, Dnnl_h::dnnl_primitive_attr_destroy);
            destroyIfSet(pd, Dnnl_h::dnnl_primitive_desc_destroy);
            destroyIfSet(mdA, Dnnl_h::dnnl_memory_desc_destroy);
            destroyIfSet(mdB, Dnnl_h::dnnl_memory_desc_destroy);
            destroyIfSet(mdC, Dnnl_h::dnnl_memory_desc_destroy);
        }
    }

    static MemorySegment memoryDesc(Arena a, MemorySegment out, long rows, long cols, DnnlDataType t,
                                    long rowStride, long colStride) {
        MemorySegment dims = a.allocateFrom(ValueLayout.JAVA_LONG, rows, cols);
        MemorySegment strides = a.allocateFrom(ValueLayout.JAVA_LONG, rowStride, colStride);
        Dnnl.check("dnnl_memory_desc_create_with_strides",
                Dnnl_h.dnnl_memory_desc_create_with_strides(out, 2, dims, t.dnnl(), strides),
                rows + "x" + cols + " " + t);
        return out.get(ValueLayout.ADDRESS, 0);
    }

    static void destroyIfSet(MemorySegment handle, java.util.function.ToIntFunction<MemorySegment> destroy) {
        if (!handle.equals(MemorySegment.NULL)) {
            destroy.applyAsInt(handle);
        }
    }

    public MatmulShape shape() {
        return shape;
    }

    /** oneDNN's name for the implementation it chose, e.g. {@code brg_matmul:avx2}. */
    public String implementation() {
        return implementation;
    }

    /**
     * C = alpha * op(A) x op(B) + beta * C on the given segments (layouts in {@link MatmulShape}).
     *
     * @throws IllegalArgumentException if a segment is on-heap or smaller than the shape needs
     * @throws IllegalStateException    if a segment's arena or the {@link Dnnl} is closed
     */
    public void execute(MemorySegment a, MemorySegment b, MemorySegment c) {
        Dnnl.checkSegment("matmul A", a, shape.bytesA());
        Dnnl.checkSegment("matmul B", b, shape.bytesB());
        Dnnl.checkSegment("matmul C", c, shape.bytesC());
        CloseGuard guard = dnnl.guard();
        guard.enter();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            MemorySegment memA = MemorySegment.NULL, memB = MemorySegment.NULL, memC = MemorySegment.NULL,
                    memS = MemorySegment.NULL;
            try {
                memA = wrap(out, dnnl.engine(), mdA, a);
                memB = wrap(out, dnnl.engine(), mdB, b);
                memC = wrap(out, dnnl.engine(), mdC, c);
                int nargs = 3;
                if (scratchpadBytes > 0) {
                    memS = wrap(out, dnnl.engine(), scratchpadMd, arena.allocate(scratchpadBytes, 64));
                    nargs = 4;
                }
                MemorySegment args = arena.allocate(dnnl_exec_arg_t.layout(), nargs);
                setArg(args, 0, Dnnl_h.DNNL_ARG_SRC(), memA);
                setArg(args, 1, Dnnl_h.DNNL_ARG_WEIGHTS(), memB);
                setArg(args, 2, Dnnl_h.DNNL_ARG_DST(), memC);
                if (nargs == 4) {
                    setArg(args, 3, Dnnl_h.DNNL_ARG_SCRATCHPAD(), memS);
                }
                MemorySegment stream = dnnl.stream();
                Dnnl.check("dnnl_primitive_execute", Dnnl_h.dnnl_primitive_execute(primitive, stream, nargs, args), shape.toString());
                Dnnl.check("dnnl_stream_wait", Dnnl_h.dnnl_stream_wait(stream), null);
            } finally {
                destroyIfSet(memA, Dnnl_h::dnnl_memory_destroy);
                destroyIfSet(memB, Dnnl_h::dnnl_memory_destroy);
                destroyIfSet(memC, Dnnl_h::dnnl_memory_destroy);
                destroyIfSet(memS, Dnnl_h::dnnl_memory_destroy);
            }
        } finally {
            guard.exit();
        }
    }

    /** A oneDNN memory object over {@code data}'s bytes (no copy). */
    static MemorySegment wrap(MemorySegment out, MemorySegment engine, MemorySegment md, MemorySegment data) {
        Dnnl.check("dnnl_memory_create", Dnnl_h.dnnl_memory_create(out, md, engine, data), null);
        return out.get(ValueLayout.ADDRESS, 0);
    }

    static void setArg(MemorySegment args, int i, int argId, MemorySegment mem) {
        MemorySegment slot = dnnl_exec_arg_t.asSlice(args, i);
        dnnl_exec_arg_t.arg(slot, argId);
        dnnl_exec_arg_t.memory(slot, mem);
    }

    void destroy() {
        Dnnl_h.dnnl_primitive_destroy(primitive);
        Dnnl_h.dnnl_primitive_desc_destroy(primitiveDesc);
        Dnnl_h.dnnl_memory_desc_destroy(mdA);
        Dnnl_h.dnnl_memory_desc_destroy(mdB);
        Dnnl_h.dnnl_memory_desc_destroy(mdC);
    }
}
