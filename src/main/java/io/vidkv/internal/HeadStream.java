package io.vidkv.internal;

import io.vidkv.codec.HeadState;

import java.lang.foreign.MemorySegment;

/**
 * What the kernels read of one (layer, KV head): its quantized blocks of G tokens in pages from the
 * pool, then the residual window of the newest tokens in float32. Zero-copy and allocation-free.
 *
 * <p>Block {@code i} covers positions {@code firstPosition() + i * G ..} (block indices stay
 * relative to the oldest retained block under eviction) and lives in {@link #page(int)} at
 * {@link #offset(int)}, laid out as {@code io.vidkv.layout} states. The window's token {@code j}
 * (position {@code firstPosition() + blockCount() * G + j}) is at slot {@link #windowSlot(int)} of
 * {@link #windowKeys(int) windowKeys(j)} / {@link #windowValues(int) windowValues(j)}, {@code headDim}
 * floats a slot. The window is held in chunks that forks share (so consecutive tokens may lie in
 * different segments): read it token by token; quantizing a group never moves the remaining tokens.
 *
 * <p>Read it only between a cache's {@link CacheAccess#beginRead} and {@link CacheAccess#endRead}:
 * an append moves the window and adds blocks.
 */
public interface HeadStream {

    /** Retained blocks (evicted ones are not counted). */
    int blockCount();

    /** Position of the first token of block 0 (0 unless blocks were evicted). */
    int firstPosition();

    /** The page holding block {@code block}. */
    MemorySegment page(int block);

    /** Byte offset of block {@code block} in its page. */
    long offset(int block);

    /** Per-head state fixed at calibration (channel split, super-scales). */
    HeadState state();

    /** Tokens in the residual window. */
    int windowCount();

    /** Slot of window token {@code j} (0 = oldest) in {@link #windowKeys(int)} / {@link #windowValues(int)}. */
    int windowSlot(int j);

    /** The keys holding window token {@code j}: [slots][headDim] float32, its key at slot {@link #windowSlot(int)}. */
    MemorySegment windowKeys(int j);

    /** The values holding window token {@code j}: [slots][headDim] float32, its value at slot {@link #windowSlot(int)}. */
    MemorySegment windowValues(int j);
}
