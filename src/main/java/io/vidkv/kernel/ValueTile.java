package io.vidkv.kernel;

import io.vidkv.codec.CodecScratch;
import io.vidkv.codec.HeadState;
import io.vidkv.codec.ValueCodec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Writes one value block into the native prefill tile that oneDNN multiplies, token-major: channel c
 * of the block's token t as the float at byte {@code dst + 4 (t d + c)}. One implementation per layout
 * family where a code kernel pays, picked once per layer by {@link KernelProvider#valueTile}.
 */
interface ValueTile {

    /** The value block at {@code off} of {@code page} into {@code tile} at byte {@code dst}. */
    void values(MemorySegment page, long off, HeadState state, MemorySegment tile, long dst, CodecScratch scratch);

    /** Any layout: the codec's decoder into a heap block, then one bulk copy. */
    final class Decoded implements ValueTile {
        private final ValueCodec codec;
        private final float[] block;

        Decoded(ValueCodec codec, int groupSize, int headDim) {
            this.codec = codec;
            this.block = new float[groupSize * headDim];
        }

        @Override
        public void values(MemorySegment page, long off, HeadState state, MemorySegment tile, long dst, CodecScratch scratch) {
            codec.decode(page, off, state, block, 0, scratch);
            MemorySegment.copy(block, 0, tile, ValueLayout.JAVA_FLOAT, dst, block.length);
        }
    }
}
