package io.vidkv;

import io.vidkv.codec.CodecScratch;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The per-KV-head work of one {@link KvCache#append}: copy the tokens into the head's residual
 * window, calibrate the head at its first quantization, and quantize every group the schedule makes
 * due into a block. One reused object per sequence, so appends allocate nothing; heads run in
 * parallel on a {@link ParallelRunner}, each worker on its own scratch, and only head 0 reports the
 * layer's new counts (every head of a layer quantizes in step).
 */
final class AppendTask implements ParallelRunner.Task {

    private final ModelShape shape;
    private final int pageBytes;
    private final CodecScratch[] scratch;
    private final float[][] keyGroup;
    private final float[][] valueGroup;
    private final ProtectedTokens protectedTokens;
    private final PageReservation reservation;
    private LayerStore ls;
    private MemorySegment keys;
    private MemorySegment values;
    private int tokenCount;
    private InputType type;
    private int newQuantized;
    private boolean newCalibrated;

    /** Over the sequence's per-worker scratch and group buffers, protected tokens and page reservation. */
    AppendTask(ModelShape shape, int pageBytes, CodecScratch[] scratch, float[][] keyGroup, float[][] valueGroup,
               ProtectedTokens protectedTokens, PageReservation reservation) {
        this.shape = shape;
        this.pageBytes = pageBytes;
        this.scratch = scratch;
        this.keyGroup = keyGroup;
        this.valueGroup = valueGroup;
        this.protectedTokens = protectedTokens;
        this.reservation = reservation;
    }

    void begin(LayerStore ls, MemorySegment keys, MemorySegment values, int tokenCount, InputType type) {
        this.ls = ls;
        this.keys = keys;
        this.values = values;
        this.tokenCount = tokenCount;
        this.type = type;
    }

    @Override
    public void run(int head, int worker) {
        HeadStore hs = ls.heads[head];
        int d = shape.headDim();
        int g = ls.config.groupSize();
        int quantized = ls.quantizedTokens;
        boolean calibrated = ls.calibrated;
        CodecScratch s = scratch[worker];
        float[] kx = keyGroup[worker];
        float[] vx = valueGroup[worker];
        for (int t = 0; t < tokenCount; t++) {
            long src = ((long) t * shape.kvHeads() + head) * d;
            int slot = hs.window.nextSlot();
            copyToken(keys, src, hs.window.openKeys(), (long) slot * d, d);
            copyToken(values, src, hs.window.openValues(), (long) slot * d, d);
            hs.window.push();
            int groups = ls.schedule.groupsDue(hs.windowCount(), calibrated);
            if (groups == 0) {
                continue;
            }
            if (!calibrated) {
                calibrate(hs, s);
                calibrated = true;
            }
            for (int i = 0; i < groups; i++) {
                hs.readWindow(true, 0, g, kx);
                hs.readWindow(false, 0, g, vx);
                long protectedMask = protectedTokens.mask(quantized, g);
                int protectedCount = Long.bitCount(protectedMask);
                long keyBytes = ls.keyCodec.blockBytes();
                long bytes = ls.blockBytes(protectedCount);
                MemorySegment page;
                synchronized (reservation) {
                    page = hs.placeBlock(bytes, pageBytes, reservation);
                }
                long off = hs.offset(hs.blockCount());
                long started = System.nanoTime();
                ls.keyCodec.encode(kx, hs.state, page, off, s);
                long vb = ls.valueCodec.encode(vx, protectedMask, hs.state, page, off + keyBytes, s);
                if (vb != bytes - keyBytes) {
                    throw new IllegalStateException("internal error: value block is " + vb + " bytes, expected " + (bytes - keyBytes));
                }
                hs.commitBlock(bytes);
                hs.popGroup();
                io.vidkv.jfr.BlockQuantizedEvent.record(ls.index, head, ls.name, g, System.nanoTime() - started);
                quantized += g;
                if (head == 0) {
                    ls.countBlocks(protectedCount, shape.kvHeads());
                }
            }
        }
        if (head == 0) {
            newQuantized = quantized;
            newCalibrated = calibrated;
        }
    }

    /** Fixes the head's channel split and scales from the first C groups, all in the window now. */
    private void calibrate(HeadStore hs, CodecScratch s) {
        int n = ls.schedule.calibrationTokens();
        float[] ck = new float[n * shape.headDim()]; // once per (layer, head) in a sequence's life
        float[] cv = new float[n * shape.headDim()];
        hs.readWindow(true, 0, n, ck);
        hs.readWindow(false, 0, n, cv);
        ls.keyCodec.calibrate(ck, n, hs.state, s);
        ls.valueCodec.calibrate(cv, n, hs.state, s);
        hs.state.markCalibrated();
    }

    private void copyToken(MemorySegment src, long element, MemorySegment dst, long dstElement, int d) {
        if (type == InputType.F32) {
            MemorySegment.copy(src, element * 4, dst, dstElement * 4, (long) d * 4);
        } else {
            for (int c = 0; c < d; c++) {
                dst.setAtIndex(ValueLayout.JAVA_FLOAT, dstElement + c, type.get(src, element + c));
            }
        }
    }

    void finish() {
        ls.tokens += tokenCount;
        ls.quantizedTokens = newQuantized;
        ls.calibrated = newCalibrated;
    }

    void clear() {
        ls = null;
        keys = null;
        values = null;
    }
}
