package io.vidkv;

import java.lang.foreign.MemorySegment;

/**
 * The checks an append makes on its input before anything is written (the failure policy: a
 * rejected append changes nothing): the segments' size, liveness and thread, then every element
 * finite and, where the layer stores FP16, within its range. Messages name the layer, head, token and
 * channel, and the expected against the actual size.
 */
final class AppendInput {

    /** Largest finite FP16 value. */
    static final float FP16_MAX = 65504f;

    private AppendInput() {
    }

    /** Rejects a null, closed, foreign-thread or too small segment of {@code elements} of {@code type}. */
    static void checkSegment(ModelShape shape, String what, int layer, MemorySegment seg, long elements, InputType type, int tokens) {
        if (seg == null) {
            throw new IllegalArgumentException("layer " + layer + ": " + what + " segment is null");
        }
        if (!seg.scope().isAlive()) {
            throw new IllegalStateException("layer " + layer + ": " + what + " segment's arena is closed");
        }
        if (!seg.isAccessibleBy(Thread.currentThread())) { // else a WrongThreadException from deep inside the checks
            throw new IllegalArgumentException("layer " + layer + ": " + what + " segment belongs to a confined arena of "
                    + "another thread; append on that thread or allocate the input from a shared arena (nothing was appended)");
        }
        long need = elements * type.bytes();
        if (seg.byteSize() < need) {
            throw new IllegalArgumentException("layer " + layer + ": " + what + " segment has " + seg.byteSize()
                    + " bytes, expected " + need + " for [" + tokens + " tokens, " + shape.kvHeads() + " KV heads, "
                    + shape.headDim() + " dims] of " + type);
        }
    }

    /** Rejects a non-finite element, or one beyond the FP16 range when {@code fp16Range}. */
    static void checkValues(ModelShape shape, String what, int layer, MemorySegment seg, long elements, InputType type, boolean fp16Range) {
        int d = shape.headDim();
        // the first bad element by the encoders' body (vector loads unless the segment is mapped)
        long i = io.vidkv.codec.EncodeMath.chosen().firstInvalid(seg, 0, elements, type, fp16Range);
        if (i >= 0) {
            float v = type.get(seg, i);
            long token = i / shape.tokenElements();
            long head = i / d % shape.kvHeads();
            throw new IllegalArgumentException("layer " + layer + ", head " + head + ", token " + token + " (of this append)"
                    + ", channel " + (i % d) + ": " + what + " value " + v + (Float.isFinite(v)
                    ? " exceeds the FP16 range (+-65504) that this layer's storage needs" : " is not finite")
                    + "; nothing was appended");
        }
    }
}
