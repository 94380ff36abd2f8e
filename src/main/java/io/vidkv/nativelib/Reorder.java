package io.vidkv.nativelib;

import io.vidkv.bindings.dnnl.Dnnl_h;
import io.vidkv.bindings.dnnl.dnnl_exec_arg_t;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A oneDNN reorder that converts {@code elements} contiguous values between element types
 * (f32 to bf16 before a bf16 matmul, for instance), made by {@link Dnnl#reorder}. Thread-safe;
 * runs on caller segments in place.
 */
public final class Reorder {

    /** Cache key. */
    record Key(DnnlDataType from, DnnlDataType to, long elements) {
        Key {
            if (from == null || to == null) {
                throw new IllegalArgumentException("reorder data types must not be null");
            }
            if (elements <= 0) {
                throw new IllegalArgumentException("reorder element count must be positive, got " + elements);
            }
        }
    }

    private final Dnnl dnnl;
    private final Key key;
    private final MemorySegment mdFrom;
    private final MemorySegment mdTo;
    private final MemorySegment primitiveDesc;
    private final MemorySegment primitive;

    private Reorder(Dnnl dnnl, Key key, MemorySegment mdFrom, MemorySegment mdTo, MemorySegment pd, MemorySegment prim) {
        this.dnnl = dnnl;
        this.key = key;
        this.mdFrom = mdFrom;
        this.mdTo = mdTo;
        this.primitiveDesc = pd;
        this.primitive = prim;
    }

    static Reorder create(Dnnl dnnl, Key k) {
        MemorySegment from = MemorySegment.NULL, to = MemorySegment.NULL, pd = MemorySegment.NULL;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            from = Matmul.memoryDesc(a, out, 1, k.elements(), k.from(), k.elements(), 1);
            to = Matmul.memoryDesc(a, out, 1, k.elements(), k.to(), k.elements(), 1);
            Dnnl.check("dnnl_reorder_primitive_desc_create", Dnnl_h.dnnl_reorder_primitive_desc_create(
                    out, from, dnnl.engine(), to, dnnl.engine(), MemorySegment.NULL), k.toString());
            pd = out.get(ValueLayout.ADDRESS, 0);
            Dnnl.check("dnnl_primitive_create", Dnnl_h.dnnl_primitive_create(out, pd), k.toString());
            Reorder r = new Reorder(dnnl, k, from, to, pd, out.get(ValueLayout.ADDRESS, 0));
            from = to = pd = MemorySegment.NULL;
            return r;
        } finally {
            Matmul.destroyIfSet(pd, Dnnl_h::dnnl_primitive_desc_destroy);
            Matmul.destroyIfSet(from, Dnnl_h::dnnl_memory_desc_destroy);
            Matmul.destroyIfSet(to, Dnnl_h::dnnl_memory_desc_destroy);
        }
    }

    public DnnlDataType from() {
        return key.from();
    }

    public DnnlDataType to() {
        return key.to();
    }

    public long elements() {
        return key.elements();
    }

    /** Converts {@code src} (type {@link #from()}) into {@code dst} (type {@link #to()}). */
    public void execute(MemorySegment src, MemorySegment dst) {
        Dnnl.checkSegment("reorder source", src, key.elements() * key.from().bytes());
        Dnnl.checkSegment("reorder destination", dst, key.elements() * key.to().bytes());
        CloseGuard guard = dnnl.guard();
        guard.enter();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            MemorySegment memFrom = MemorySegment.NULL, memTo = MemorySegment.NULL;
            try {
                memFrom = Matmul.wrap(out, dnnl.engine(), mdFrom, src);
                memTo = Matmul.wrap(out, dnnl.engine(), mdTo, dst);
                MemorySegment args = arena.allocate(dnnl_exec_arg_t.layout(), 2);
                Matmul.setArg(args, 0, Dnnl_h.DNNL_ARG_FROM(), memFrom);
                Matmul.setArg(args, 1, Dnnl_h.DNNL_ARG_TO(), memTo);
                MemorySegment stream = dnnl.stream();
                Dnnl.check("dnnl_primitive_execute", Dnnl_h.dnnl_primitive_execute(primitive, stream, 2, args), key.toString());
                Dnnl.check("dnnl_stream_wait", Dnnl_h.dnnl_stream_wait(stream), null);
            } finally {
                Matmul.destroyIfSet(memFrom, Dnnl_h::dnnl_memory_destroy);
                Matmul.destroyIfSet(memTo, Dnnl_h::dnnl_memory_destroy);
            }
        } finally {
            guard.exit();
        }
    }

    void destroy() {
        Dnnl_h.dnnl_primitive_destroy(primitive);
        Dnnl_h.dnnl_primitive_desc_destroy(primitiveDesc);
        Dnnl_h.dnnl_memory_desc_destroy(mdFrom);
        Dnnl_h.dnnl_memory_desc_destroy(mdTo);
    }
}
