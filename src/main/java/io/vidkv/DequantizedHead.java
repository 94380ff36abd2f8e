package io.vidkv;

import io.vidkv.codec.CodecScratch;
import io.vidkv.codec.KeyCodec;
import io.vidkv.codec.ValueCodec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * What one (layer, KV head) of a cache holds, read back as floats: every quantized block through
 * its codecs' dequantizer (keys in channel space, as they were appended), then the residual window
 * as stored. For debugging and evaluation: it allocates two arrays of {@code tokens * headDim}
 * floats, so it is not for the decode loop (the kernels never dequantize).
 *
 * @param layer         the layer read
 * @param kvHead        the KV head read
 * @param firstPosition the position of row 0 ({@code 0} unless pages were evicted)
 * @param tokens        the number of rows: the retained tokens, in position order
 * @param headDim       the channels per row
 * @param keys          {@code [tokens][headDim]} keys, row-major
 * @param values        {@code [tokens][headDim]} values, row-major
 */
public record DequantizedHead(int layer, int kvHead, int firstPosition, int tokens, int headDim, float[] keys,
                              float[] values) {

    /** Checks the array sizes (a record accessor hands out the arrays themselves, not copies). */
    public DequantizedHead {
        if (keys.length != tokens * headDim || values.length != tokens * headDim) {
            throw new IllegalArgumentException("keys/values must hold tokens x headDim = " + tokens + " x " + headDim
                    + " floats, got " + keys.length + " and " + values.length);
        }
    }

    /**
     * The key of row {@code token}, channel {@code channel}.
     *
     * @param token   the row, {@code 0 <= token < tokens()} (position {@code firstPosition() + token})
     * @param channel the channel, {@code 0 <= channel < headDim()}
     * @return the dequantized key element
     */
    public float key(int token, int channel) {
        return keys[token * headDim + channel];
    }

    /**
     * The value of row {@code token}, channel {@code channel}.
     *
     * @param token   the row, {@code 0 <= token < tokens()} (position {@code firstPosition() + token})
     * @param channel the channel, {@code 0 <= channel < headDim()}
     * @return the dequantized value element
     */
    public float value(int token, int channel) {
        return values[token * headDim + channel];
    }

    /** Reads (layer, kvHead) of {@code cache}; the caller has checked both indices. */
    static DequantizedHead read(int layer, int kvHead, HeadStore hs, KeyCodec keyCodec, ValueCodec valueCodec,
                                int headDim, int groupSize, int queriesPerKvHead) {
        int d = headDim, g = groupSize;
        int n = hs.blockCount() * g + hs.windowCount();
        float[] k = new float[n * d];
        float[] v = new float[n * d];
        float[] buf = new float[g * d];
        try (CodecScratch s = new CodecScratch(d, g, queriesPerKvHead)) {
            for (int b = 0; b < hs.blockCount(); b++) {
                keyCodec.dequantize(hs.page(b), hs.offset(b), hs.state(), buf, s);
                System.arraycopy(buf, 0, k, b * g * d, g * d);
                valueCodec.decode(hs.page(b), hs.offset(b) + keyCodec.blockBytes(), hs.state(), buf, 0, s);
                System.arraycopy(buf, 0, v, b * g * d, g * d);
            }
        }
        for (int j = 0; j < hs.windowCount(); j++) {
            int row = (hs.blockCount() * g + j) * d;
            long base = (long) hs.windowSlot(j) * d * Float.BYTES;
            MemorySegment.copy(hs.windowKeys(j), ValueLayout.JAVA_FLOAT, base, k, row, d);
            MemorySegment.copy(hs.windowValues(j), ValueLayout.JAVA_FLOAT, base, v, row, d);
        }
        return new DequantizedHead(layer, kvHead, hs.firstPosition(), n, d, k, v);
    }
}
