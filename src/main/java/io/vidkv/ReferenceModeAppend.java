package io.vidkv;

import io.vidkv.codec.CodecScratch;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The write phase of an append to a layer in the reference mode ({@link LayerConfig#referenceMode()}):
 * the public reference code's lifecycle, which works on a whole layer at once because its key
 * channel split is one per layer, over every KV head and token ({@code tensor.reshape(-1, D)}).
 *
 * <p>Prefill (the layer's first append, N tokens): the first N - N mod G tokens are quantized
 * with a split chosen over all of them in all heads; the last N mod G stay in the window.
 * Decode (every later token, one at a time): the token joins the window; when the window holds
 * {@link LayerConfig#referenceFlushTokens()} tokens, every block is dequantized, the split is
 * chosen again over the dequantized blocks and the window of all heads, the blocks are quantized
 * again in place and the window becomes new blocks. Runs on the calling thread; the flush
 * allocates O(layer tokens) floats, as the reference code's O(N) flush does.
 *
 * <p>Pages: {@link #newGroups} is what {@link LayerStore#pagesPerHead} plans with, so the blocks
 * written are the reserved ones (re-quantized blocks keep their place and size: reference values
 * store no protected tokens).
 */
final class ReferenceModeAppend {

    private final ModelShape shape;
    private final PageReservation reservation;
    private final int pageBytes;

    ReferenceModeAppend(ModelShape shape, PageReservation reservation, int pageBytes) {
        this.shape = shape;
        this.reservation = reservation;
        this.pageBytes = pageBytes;
    }

    /** Blocks per head that an append of {@code tokenCount} tokens creates. */
    static int newGroups(LayerStore ls, int tokenCount) {
        int g = ls.config.groupSize();
        if (ls.tokens == 0) {
            return tokenCount / g;
        }
        int flush = ls.config.referenceFlushTokens();
        return (ls.heads[0].windowCount() + tokenCount) / flush * (flush / g);
    }

    void append(LayerStore ls, MemorySegment keys, MemorySegment values, int tokenCount, InputType type, CodecScratch s,
                float[] kx, float[] vx) {
        int d = shape.headDim(), g = ls.config.groupSize(), heads = shape.kvHeads();
        int first = 0;
        if (ls.tokens == 0) {
            int q = tokenCount / g * g;
            if (q > 0) {
                float[] flat = new float[q * heads * d]; // key_states[:, :, :-remainder].reshape(-1, D)
                for (int t = 0; t < q; t++) {
                    for (int h = 0; h < heads; h++) {
                        read(keys, type, ((long) t * heads + h) * d, flat, (t * heads + h) * d, d);
                    }
                }
                split(ls, flat, q * heads, s);
                for (int h = 0; h < heads; h++) {
                    for (int b = 0; b < q / g; b++) {
                        for (int t = 0; t < g; t++) {
                            long src = ((long) (b * g + t) * heads + h) * d;
                            read(keys, type, src, kx, t * d, d);
                            read(values, type, src, vx, t * d, d);
                        }
                        encodeNewBlock(ls, h, kx, vx, s);
                    }
                }
                ls.countBlocks(0, heads * (q / g));
                ls.quantizedTokens += q;
            }
            first = q;
            int rest = tokenCount - q;
            pushTokens(keys, values, type, first, rest, ls);
            ls.tokens += tokenCount;
            return;
        }
        int flushAt = ls.config.referenceFlushTokens();
        for (int t = 0; t < tokenCount; t++) {
            pushTokens(keys, values, type, t, 1, ls);
            ls.tokens++;
            if (ls.heads[0].windowCount() == flushAt) {
                flush(ls, s, kx, vx);
            }
        }
    }

    /** Copies tokens [from, from + n) of the input into every head's window. */
    private void pushTokens(MemorySegment keys, MemorySegment values, InputType type, int from, int n, LayerStore ls) {
        int d = shape.headDim(), heads = shape.kvHeads();
        for (int t = from; t < from + n; t++) {
            for (int h = 0; h < heads; h++) {
                HeadStore hs = ls.heads[h];
                long src = ((long) t * heads + h) * d;
                long dst = (long) hs.window.nextSlot() * d;
                copy(keys, type, src, hs.window.openKeys(), dst, d);
                copy(values, type, src, hs.window.openValues(), dst, d);
                hs.window.push();
            }
        }
    }

    /** Dequantize every block and the window, choose the split again, quantize everything again. */
    private void flush(LayerStore ls, CodecScratch s, float[] kx, float[] vx) {
        int d = shape.headDim(), g = ls.config.groupSize(), heads = shape.kvHeads();
        int blocks = ls.heads[0].blockCount(), window = ls.heads[0].windowCount();
        int tokens = blocks * g + window;
        long keyBytes = ls.keyCodec.blockBytes();
        float[][] k = new float[heads][tokens * d];
        float[][] v = new float[heads][tokens * d];
        float[] flat = new float[heads * tokens * d];
        for (int h = 0; h < heads; h++) {
            HeadStore hs = ls.heads[h];
            for (int b = 0; b < blocks; b++) {
                ls.keyCodec.dequantize(hs.page(b), hs.offset(b), hs.state, kx, s);
                System.arraycopy(kx, 0, k[h], b * g * d, g * d);
                ls.valueCodec.decode(hs.page(b), hs.offset(b) + keyBytes, hs.state, vx, 0, s);
                System.arraycopy(vx, 0, v[h], b * g * d, g * d);
            }
            float[] wk = new float[window * d], wv = new float[window * d];
            hs.readWindow(true, 0, window, wk);
            hs.readWindow(false, 0, window, wv);
            System.arraycopy(wk, 0, k[h], blocks * g * d, window * d);
            System.arraycopy(wv, 0, v[h], blocks * g * d, window * d);
            System.arraycopy(k[h], 0, flat, h * tokens * d, tokens * d); // row order does not change a range
        }
        split(ls, flat, heads * tokens, s);
        for (int h = 0; h < heads; h++) {
            HeadStore hs = ls.heads[h];
            for (int b = 0; b < blocks; b++) {
                System.arraycopy(k[h], b * g * d, kx, 0, g * d);
                System.arraycopy(v[h], b * g * d, vx, 0, g * d);
                ls.keyCodec.encode(kx, hs.state, hs.page(b), hs.offset(b), s);
                ls.valueCodec.encode(vx, 0L, hs.state, hs.page(b), hs.offset(b) + keyBytes, s);
            }
            // the window's tokens are the first ones of the new blocks: read before popping
            for (int b = 0; b < window / g; b++) {
                System.arraycopy(k[h], (blocks + b) * g * d, kx, 0, g * d);
                System.arraycopy(v[h], (blocks + b) * g * d, vx, 0, g * d);
                encodeNewBlock(ls, h, kx, vx, s);
                hs.popGroup();
            }
        }
        ls.countBlocks(0, heads * (window / g));
        ls.quantizedTokens += window;
    }

    /** One split for the layer from {@code rows} key rows of all heads, set in every head. */
    private static void split(LayerStore ls, float[] rows, int count, CodecScratch s) {
        HeadStore h0 = ls.heads[0];
        ls.keyCodec.calibrate(rows, count, h0.state, s);
        h0.state.markCalibrated();
        for (int h = 1; h < ls.heads.length; h++) {
            System.arraycopy(h0.state.keyOrder, 0, ls.heads[h].state.keyOrder, 0, h0.state.keyOrder.length);
            ls.heads[h].state.markCalibrated();
        }
        ls.calibrated = true;
    }

    private void encodeNewBlock(LayerStore ls, int head, float[] kx, float[] vx, CodecScratch s) {
        HeadStore hs = ls.heads[head];
        long keyBytes = ls.keyCodec.blockBytes();
        long bytes = ls.blockBytes(0);
        MemorySegment page;
        synchronized (reservation) {
            page = hs.placeBlock(bytes, pageBytes, reservation);
        }
        long off = hs.offset(hs.blockCount());
        long started = System.nanoTime();
        ls.keyCodec.encode(kx, hs.state, page, off, s);
        long vb = ls.valueCodec.encode(vx, 0L, hs.state, page, off + keyBytes, s);
        if (vb != bytes - keyBytes) {
            throw new IllegalStateException("internal error: value block is " + vb + " bytes, expected " + (bytes - keyBytes));
        }
        hs.commitBlock(bytes);
        io.vidkv.jfr.BlockQuantizedEvent.record(ls.index, head, ls.name, ls.config.groupSize(), System.nanoTime() - started);
    }

    private static void read(MemorySegment src, InputType type, long element, float[] dst, int at, int d) {
        if (type == InputType.F32) {
            MemorySegment.copy(src, ValueLayout.JAVA_FLOAT_UNALIGNED, element * 4, dst, at, d);
        } else {
            for (int c = 0; c < d; c++) {
                dst[at + c] = type.get(src, element + c);
            }
        }
    }

    private static void copy(MemorySegment src, InputType type, long element, MemorySegment dst, long dstElement, int d) {
        if (type == InputType.F32) {
            MemorySegment.copy(src, element * 4, dst, dstElement * 4, (long) d * 4);
        } else {
            for (int c = 0; c < d; c++) {
                dst.setAtIndex(ValueLayout.JAVA_FLOAT, dstElement + c, type.get(src, element + c));
            }
        }
    }
}
