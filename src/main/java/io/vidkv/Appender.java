package io.vidkv;

import io.vidkv.codec.CodecScratch;

import java.lang.foreign.MemorySegment;

/**
 * The write path of {@link KvCache#append} and {@link KvCache#appendLayers}, in its three phases:
 * {@link #prepare} checks every layer's arguments and input values and reserves every page the
 * append needs, changing nothing (a rejected append leaves the cache as it was); {@link #write}
 * commits the layers' evictions and runs the (layer, KV head) items, on the runner when there is
 * work for two cores; {@link #release} returns the pages the write did not use. One object per
 * sequence, reused, so appends allocate nothing; the sequence's write guard is the caller's.
 *
 * <p>Items are (layer, head) pairs, layer-major: a prefill of several layers keeps every core busy
 * even where a layer has fewer KV heads than the runner has threads (one KV head: grouped-query
 * models with a single group). Each item writes only its own head's window and pages, and takes
 * pages from the one reservation under its lock, so the bytes are the same whichever thread runs it
 * and however the layers are split into calls.
 */
final class Appender {

    private final ModelShape shape;
    private final PagePool pool;
    private final ParallelRunner runner;
    private final LayerStore[] layers;
    private final CapacityPolicy capacity;
    private final PageReservation reservation;
    /** One eviction plan and one head task per layer, sharing the reservation. */
    private final EvictionPlan[] evictions;
    private final AppendTask[] tasks;
    private final ReferenceModeAppend referenceAppend;
    private final CodecScratch scratch;
    private final float[] keyGroup;
    private final float[] valueGroup;
    /** The (layer, head) items of the run in progress: item i is head i % H of layer first + i / H. */
    private final ParallelRunner.Task layerHeads;
    private final MemorySegment[] oneKeys = new MemorySegment[1];
    private final MemorySegment[] oneValues = new MemorySegment[1];
    private int first;
    private int count;
    private int tokenCount;
    private MemorySegment[] keys;
    private MemorySegment[] values;
    private InputType type;

    Appender(ModelShape shape, CacheConfig config, PagePool pool, ParallelRunner runner, LayerStore[] layers,
             ProtectedTokens protectedTokens, CodecScratch[] scratch, float[][] keyGroup, float[][] valueGroup,
             int maxPagesPerAppend) {
        this.shape = shape;
        this.pool = pool;
        this.runner = runner;
        this.layers = layers;
        this.capacity = config.capacity();
        this.reservation = new PageReservation(pool, maxPagesPerAppend);
        this.evictions = new EvictionPlan[layers.length];
        this.tasks = new AppendTask[layers.length];
        for (int l = 0; l < layers.length; l++) {
            evictions[l] = new EvictionPlan(capacity, reservation, protectedTokens, pool, shape.kvHeads(), config.pageBytes());
            tasks[l] = new AppendTask(shape, config.pageBytes(), scratch, keyGroup, valueGroup, protectedTokens, reservation);
        }
        this.referenceAppend = new ReferenceModeAppend(shape, reservation, config.pageBytes());
        this.scratch = scratch[0];
        this.keyGroup = keyGroup[0];
        this.valueGroup = valueGroup[0];
        int heads = shape.kvHeads();
        this.layerHeads = (item, worker) -> tasks[first + item / heads].run(item % heads, worker);
    }

    /** {@link #prepare} of one layer (the single-layer append; no array is allocated). */
    boolean prepare(int layer, MemorySegment keys, MemorySegment values, int tokenCount, InputType type) {
        oneKeys[0] = keys;
        oneValues[0] = values;
        try {
            return prepare(layer, oneKeys, oneValues, 1, tokenCount, type);
        } catch (RuntimeException e) {
            clearInputs(); // a rejected append keeps no reference to the caller's memory
            throw e;
        }
    }

    /**
     * Checks layers [first, first + count) and their inputs keys[i], values[i], then reserves their
     * pages. Changes nothing on any exception. Returns false (nothing to write) for no tokens.
     */
    boolean prepare(int first, MemorySegment[] keys, MemorySegment[] values, int count, int tokenCount, InputType type) {
        // Closed collaborators are preconditions like any argument: found here, before the first
        // write, they reject the append with nothing changed instead of failing its write phase.
        if (runner != null && runner.isClosed()) {
            throw new IllegalStateException("layer " + first + ": ParallelRunner is closed (the one this cache was created "
                    + "with); close the runner after the caches and attention objects that use it (nothing was appended)");
        }
        if (pool.isClosed()) {
            throw new IllegalStateException("layer " + first + ": page pool is closed; close the pool after the caches that "
                    + "draw pages from it (nothing was appended)");
        }
        for (int i = 0; i < count; i++) {
            int layer = first + i;
            if (layer < 0 || layer >= layers.length) {
                throw new IllegalArgumentException("layer " + layer + " out of range [0, " + layers.length + ")");
            }
        }
        if (tokenCount < 0) {
            throw new IllegalArgumentException("layer " + first + ": tokenCount must be >= 0, got " + tokenCount);
        }
        if (tokenCount == 0) {
            clearInputs();
            return false;
        }
        long elements = (long) tokenCount * shape.tokenElements();
        for (int i = 0; i < count; i++) {
            checkLayer(layers[first + i], keys[i], values[i], elements, tokenCount, type);
        }
        for (int i = 0; i < count; i++) {
            LayerStore ls = layers[first + i];
            boolean fp16 = ls.config.needsFp16Range();
            AppendInput.checkValues(shape, "keys", ls.index, keys[i], elements, type, fp16);
            AppendInput.checkValues(shape, "values", ls.index, values[i], elements, type, fp16);
        }
        reservation.begin();
        try {
            for (int i = 0; i < count; i++) {
                LayerStore ls = layers[first + i];
                ls.reclaimTails(); // a tail page sealed by a fork that is gone takes blocks again (changes no content)
                evictions[ls.index].reserve(ls, tokenCount); // the last step that may reject: nothing has changed so far
            }
        } catch (RuntimeException e) {
            for (int i = 0; i < count; i++) {
                evictions[first + i].cancel();
            }
            reservation.releaseUnused();
            clearInputs();
            throw e;
        }
        this.first = first;
        this.count = count;
        this.tokenCount = tokenCount;
        this.keys = keys;
        this.values = values;
        this.type = type;
        return true;
    }

    private void checkLayer(LayerStore ls, MemorySegment keys, MemorySegment values, long elements, int tokenCount,
                            InputType type) {
        int layer = ls.index;
        AppendInput.checkSegment(shape, "keys", layer, keys, elements, type, tokenCount);
        AppendInput.checkSegment(shape, "values", layer, values, elements, type, tokenCount);
        int max = capacity.maxTokens();
        int retained = ls.tokens - ls.evictedTokens;
        if ((long) retained + tokenCount > max) {
            if (!capacity.evicts()) {
                throw new CapacityExceededException("layer " + layer + ": appending " + tokenCount + " tokens to " + ls.tokens
                        + " exceeds the capacity of " + max + " tokens (policy REJECT; nothing was appended)");
            }
            int window = ls.heads[0].windowCount();
            if ((long) window + tokenCount > max) {
                throw new CapacityExceededException("layer " + layer + ": an append of " + tokenCount + " tokens does not fit the "
                        + "capacity of " + max + " tokens even after evicting every block (" + window + " tokens are in the "
                        + "residual window); split it into smaller appends. Nothing was appended");
            }
        }
        if (ls.tokens > Integer.MAX_VALUE - tokenCount) {
            throw new CapacityExceededException("layer " + layer + ": positions past " + Integer.MAX_VALUE + " are not supported");
        }
    }

    /**
     * The write phase of the prepared append: nothing is expected to fail here (the caller marks the
     * sequence failed if something does: input memory freed under it, a VM error).
     */
    void write() {
        int heads = shape.kvHeads();
        boolean parallel = false; // whether there is work for two cores
        for (int i = 0; i < count; i++) {
            LayerStore ls = layers[first + i];
            evictions[ls.index].commit();
            if (ls.config.referenceMode()) {
                // the reference code's lifecycle works on whole layers (one split over all heads)
                referenceAppend.append(ls, keys[i], values[i], tokenCount, type, scratch, keyGroup, valueGroup);
                continue;
            }
            tasks[ls.index].begin(ls, keys[i], values[i], tokenCount, type);
            // a group's worth of tokens, or a decode step that quantizes a group (1 in G steps: the
            // encoders, ~100 us for 4 heads, against a wake-up of a few); the other decode steps only
            // copy a token into each window
            parallel |= tokenCount >= ls.config.groupSize()
                    || ls.schedule.groupsDue(ls.heads[0].windowCount() + tokenCount, ls.calibrated) > 0;
        }
        int items = 0; // the layers in reference mode ran above; the others are contiguous only if none did
        boolean contiguous = true;
        for (int i = 0; i < count; i++) {
            if (layers[first + i].config.referenceMode()) {
                contiguous = false;
            } else {
                items += heads;
            }
        }
        if (runner != null && parallel && items > 1 && contiguous && runnerReadsInputs()) {
            if (!runner.tryRun(items, layerHeads)) {
                // closed by another thread since the check in prepare: the writes have begun, so
                // finish them on this thread rather than leave the layers half written
                runHere();
            }
        } else {
            runHere();
        }
        for (int i = 0; i < count; i++) {
            LayerStore ls = layers[first + i];
            if (!ls.config.referenceMode()) {
                tasks[ls.index].finish();
            }
        }
    }

    private void runHere() {
        for (int i = 0; i < count; i++) {
            LayerStore ls = layers[first + i];
            if (ls.config.referenceMode()) {
                continue;
            }
            for (int h = 0; h < shape.kvHeads(); h++) {
                tasks[ls.index].run(h, 0);
            }
        }
    }

    private boolean runnerReadsInputs() {
        for (int i = 0; i < count; i++) {
            if (!runner.canAccess(keys[i]) || !runner.canAccess(values[i])) {
                return false;
            }
        }
        return true;
    }

    /** Returns the pages the append reserved but did not use, and forgets its inputs. */
    void release() {
        for (int i = 0; i < count; i++) {
            tasks[first + i].clear();
        }
        reservation.releaseUnused();
        clearInputs();
        count = 0;
    }

    private void clearInputs() {
        oneKeys[0] = null;
        oneValues[0] = null;
        keys = null;
        values = null;
    }
}
