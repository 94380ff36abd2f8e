package io.vidkv;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A run of residual-window slots (float32 keys and values, {@code headDim} floats a slot) and how
 * many heads reference it, so that a fork shares its parent's window instead of copying it (see
 * {@link ResidualWindow}). Reference-counted like a {@link Page}: the head that takes it from its
 * {@link WindowChunkOwner} holds the first reference, a fork adds one, and the last release hands it
 * back. Only the head that took a chunk writes it, and only into slots no other head references
 * (those past the ones filled when it was shared), so a shared slot is never written again.
 *
 * <p>The count is {@link ReferenceCounted}'s. {@link #next} links free chunks and is guarded by the
 * owner's monitor.
 */
final class WindowChunk extends ReferenceCounted {

    private static final VarHandle SHARED;

    static {
        try {
            SHARED = MethodHandles.lookup().findVarHandle(WindowChunk.class, "sharedSlots", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Keys: [capacity][headDim] float32. */
    final MemorySegment keys;
    /** Values: [capacity][headDim] float32. */
    final MemorySegment values;
    /** Slots in {@link #keys} and {@link #values}. */
    final int capacity;
    final WindowChunkOwner owner;
    /** Next free chunk of the owner's free list (the owner's monitor guards it). */
    WindowChunk next;
    /**
     * The slots [0, sharedSlots) some fork referenced (for the memory report: the writer fills the
     * slots past them for itself alone). Only grows; a moment's value.
     */
    private volatile int sharedSlots;

    WindowChunk(MemorySegment keys, MemorySegment values, int capacity, WindowChunkOwner owner) {
        this.keys = keys;
        this.values = values;
        this.capacity = capacity;
        this.owner = owner;
    }

    @Override
    String noun() {
        return "window chunk";
    }

    @Override
    void lastReleased() {
        owner.reclaim(this);
    }

    /** As {@link ReferenceCounted#claim}; a reused chunk starts unshared. */
    @Override
    void claim() {
        super.claim();
        sharedSlots = 0;
    }

    /** A fork references slots [0, slots) (forks of one sequence may run at once: a max, not a store). */
    void markShared(int slots) {
        int s;
        do {
            s = sharedSlots;
        } while (s < slots && !SHARED.compareAndSet(this, s, slots));
    }

    /**
     * Whether slot {@code slot} is referenced by another head than the caller, who holds
     * {@code own} references on the chunk: by the references now and the slots forks referenced
     * (exact unless the chunk was shared at two fill levels and the later sharer let it go).
     */
    boolean sharedAt(int slot, int own) {
        return references() > own && slot < sharedSlots;
    }
}
