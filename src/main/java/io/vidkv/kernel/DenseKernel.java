package io.vidkv.kernel;

import io.vidkv.codec.Fp16Codec;
import io.vidkv.codec.HeadState;
import io.vidkv.codec.KeyCodec;
import io.vidkv.codec.ValueCodec;
import io.vidkv.layout.Fp16Layout;

import java.lang.foreign.MemorySegment;

/**
 * Blocks attended as dense float rows [t][c]: FP16 blocks ({@link Fp16Layout}, converted in one
 * contiguous pass that C2 compiles to vcvtph2ps, into an L1-sized scratch), and the dequantizing
 * kernel for layouts without a code kernel (the reference mode, per-token keys). Scores and values
 * are FMAs with the query heads in the lanes and one element broadcast at a time.
 */
final class DenseKernel {

    private DenseKernel() {
    }

    /** FP16 keys: convert the block, then score(t) = sum_c q_c k_tc. */
    static final class Fp16Keys implements KeyKernel {
        private final KernelMath math;
        private final int d;
        private final int g;

        Fp16Keys(KernelMath math, int groupSize, int headDim) {
            this.math = math;
            this.d = headDim;
            this.g = groupSize;
        }

        @Override
        public void prepare(float[] q, int qOff, int heads, float scale, HeadState state, float[] out, int outOff, BlockScratch s) {
            BlockScratch.scaledLanes(q, qOff, heads, d, scale, out, outOff);
        }

        @Override
        public void score(MemorySegment page, long off, HeadState state, float[] prepared, int pOff, float[] q, int qOff,
                          int heads, float scale, BlockScratch s) {
            Fp16Codec.halves(page, off, g * d, s.rows, 0);
            math.denseScores(s.rows, d, g, prepared, pOff, s.scores);
        }
    }

    /** FP16 values: convert the block, then out_c = out_c rescale + sum_t p_t v_tc. */
    static final class Fp16Values implements ValueKernel {
        private final KernelMath math;
        private final int d;
        private final int g;

        Fp16Values(KernelMath math, int groupSize, int headDim) {
            this.math = math;
            this.d = headDim;
            this.g = groupSize;
        }

        @Override
        public void accumulate(MemorySegment page, long off, HeadState state, BlockScratch s, float[] out, int outOff) {
            Fp16Codec.halves(page, off, g * d, s.rows, 0);
            math.denseValues(s.rows, d, g, s.scores, s.rescale, out, outOff);
        }
    }

    /** Any key codec: dequantize the block to channel space with the codec, then dense scores. */
    static final class DequantizedKeys implements KeyKernel {
        private final KernelMath math;
        private final KeyCodec codec;
        private final int d;
        private final int g;

        DequantizedKeys(KernelMath math, KeyCodec codec, int groupSize, int headDim) {
            this.math = math;
            this.codec = codec;
            this.d = headDim;
            this.g = groupSize;
        }

        @Override
        public void prepare(float[] q, int qOff, int heads, float scale, HeadState state, float[] out, int outOff, BlockScratch s) {
            BlockScratch.scaledLanes(q, qOff, heads, d, scale, out, outOff);
        }

        @Override
        public void score(MemorySegment page, long off, HeadState state, float[] prepared, int pOff, float[] q, int qOff,
                          int heads, float scale, BlockScratch s) {
            codec.dequantize(page, off, state, s.rows, s.codec);
            math.denseScores(s.rows, d, g, prepared, pOff, s.scores);
        }
    }

    /** Any value codec: dequantize, then dense values. */
    static final class DequantizedValues implements ValueKernel {
        private final KernelMath math;
        private final ValueCodec codec;
        private final int d;
        private final int g;

        DequantizedValues(KernelMath math, ValueCodec codec, int groupSize, int headDim) {
            this.math = math;
            this.codec = codec;
            this.d = headDim;
            this.g = groupSize;
        }

        @Override
        public void accumulate(MemorySegment page, long off, HeadState state, BlockScratch s, float[] out, int outOff) {
            codec.decode(page, off, state, s.rows, 0, s.codec);
            math.denseValues(s.rows, d, g, s.scores, s.rescale, out, outOff);
        }
    }
}
