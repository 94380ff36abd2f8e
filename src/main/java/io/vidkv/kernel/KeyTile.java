package io.vidkv.kernel;

import io.vidkv.codec.CodecScratch;
import io.vidkv.codec.HeadState;
import io.vidkv.codec.KeyCodec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Writes one key block into the native prefill tile that oneDNN multiplies, in the key codec's row
 * space ({@link KeyCodec#transformQuery} maps the queries into it once per call), token-major: row r
 * of the block's token t as the float at byte {@code dst + 4 (t d + r)}. One implementation per
 * layout family where a code kernel pays, picked once per layer by {@link KernelProvider#keyTile}.
 */
interface KeyTile {

    /** The block at {@code off} of {@code page} into {@code tile} at byte {@code dst}. */
    void rows(MemorySegment page, long off, HeadState state, MemorySegment tile, long dst, CodecScratch scratch);

    /** Any layout: the codec's {@link KeyCodec#decodeRows} into a heap block, then one bulk copy. */
    final class Decoded implements KeyTile {
        private final KeyCodec codec;
        private final float[] block;

        Decoded(KeyCodec codec, int groupSize, int headDim) {
            this.codec = codec;
            this.block = new float[groupSize * headDim];
        }

        @Override
        public void rows(MemorySegment page, long off, HeadState state, MemorySegment tile, long dst, CodecScratch scratch) {
            codec.decodeRows(page, off, state, block, scratch);
            MemorySegment.copy(block, 0, tile, ValueLayout.JAVA_FLOAT, dst, block.length);
        }
    }
}
