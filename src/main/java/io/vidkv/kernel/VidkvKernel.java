package io.vidkv.kernel;

import io.vidkv.codec.CodecScratch;
import io.vidkv.codec.HeadState;
import io.vidkv.codec.KeyCodec;
import io.vidkv.codec.MetadataCodes;
import io.vidkv.codec.TernaryTokenCodec;
import io.vidkv.codec.TernaryValueCodec;
import io.vidkv.codec.VidkvKeyCodec;
import io.vidkv.layout.TernaryLayout;
import io.vidkv.layout.VidkvKeyLayout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.vidkv.kernel.KernelMath.LANES;

/**
 * The VidKV layout family: keys of {@link VidkvKeyLayout} (2-bit anomalous channels, one sign bit
 * per spectral component) and ternary values of {@link TernaryLayout} (with or without protected
 * tokens), attended straight from the codes (METHOD.md section 7).
 */
final class VidkvKernel {

    private VidkvKernel() {
    }

    /**
     * Keys. Per step the queries go into row space once: anomalous channels as they are, normal
     * channels through one batched FFTW r2c weighted by w_j / n (Parseval), so no key is ever
     * inverse-transformed. Per block:
     * <ol>
     *   <li>fold the block's parameters into one weight per bit of the token string, per query head:
     *       anomalous row r gives w = q'_r scale_r for its low bit and 2w for its high bit and adds
     *       q'_r zero_r to the bias; component j (stored as sign bit b, value (2b - 1) scale_j) gives
     *       2 q'_j scale_j for its bit and subtracts q'_j scale_j from the bias;
     *   <li>score every token as bias + the sum of the weights of its set bits, the tokens in the
     *       lanes and each bit row a lane mask ({@link BitPlaneScores}).
     * </ol>
     */
    static final class Keys implements KeyKernel {
        private final KernelMath math;
        private final VidkvKeyCodec codec;
        private final VidkvKeyLayout layout;
        private final MetadataCodes format;
        private final int d;
        private final int g;
        private final int a;
        private final int n;
        private final boolean perBlockRows;

        Keys(KernelMath math, VidkvKeyCodec codec, int groupSize, int headDim) {
            this.math = math;
            this.g = groupSize;
            this.codec = codec;
            this.layout = codec.layout();
            this.format = codec.format();
            this.d = headDim;
            this.a = layout.anomalous();
            this.n = layout.normal();
            this.perBlockRows = codec.rowSpacePerBlock();
        }

        @Override
        public void prepare(float[] q, int qOff, int heads, float scale, HeadState state, float[] out, int outOff, BlockScratch s) {
            if (perBlockRows) {
                return; // the row space is the block's own: transformed per block in score()
            }
            rowSpace(codec, d, q, qOff, heads, scale, state, out, outOff, s);
        }

        @Override
        public void score(MemorySegment page, long off, HeadState state, float[] prepared, int pOff, float[] q, int qOff,
                          int heads, float scale, BlockScratch s) {
            float[] qr = prepared;
            int qo = pOff;
            if (perBlockRows) {
                System.arraycopy(q, qOff, s.codec.f1, 0, heads * d);
                codec.transformQueryForBlock(page, off, s.codec.f1, heads, scale, state, s.codec.f2, s.codec);
                BlockScratch.toLanes(s.codec.f2, 0, heads, d, s.blockQueries, 0);
                qr = s.blockQueries;
                qo = 0;
            }
            float[] sc = s.scales, z = s.zeros;
            format.decodeScales(page, off + layout.scale(0), a, state.keySuper, 0, sc, 0);
            format.decodeZeros(page, off + layout.zero(0), a, sc, 0, z, 0);
            format.decodeScales(page, off + layout.componentScale(0), n, state.keySuper, a, sc, a);
            java.util.Arrays.fill(s.bias, 0f);
            math.foldWeights(qr, qo, sc, a, 1f, s.weights, layout.lowRow(0));
            math.foldWeights(qr, qo, sc, a, 2f, s.weights, layout.highRow(0));
            math.foldZeros(qr, qo, z, a, s.bias);
            System.arraycopy(sc, a, s.mul, 0, n); // the component scales, from row 0
            math.foldWeights(qr, qo + a * LANES, s.mul, n, 2f, s.weights, layout.signRow(0));
            math.foldSigns(qr, qo + a * LANES, s.mul, n, s.bias);
            BitPlaneScores.score(math, page, off, layout.rows(), g, s);
        }
    }

    /**
     * Prefill tiles of VidKV keys (G = 32, the frozen split): the block's rows decoded straight into
     * the native tile, token-major, from the same bit rows the decode kernel scores, each 32-bit bit
     * row one int lane ({@link KernelMath#vidkvKeyTile32}).
     */
    static final class KeyTile32 implements KeyTile {
        private final KernelMath math;
        private final VidkvKeyLayout layout;
        private final MetadataCodes format;
        private final int d;
        private final int a;
        private final int n;
        private final float[] scales;
        private final float[] zeros;
        private final int[] words;

        KeyTile32(KernelMath math, VidkvKeyCodec codec, int headDim) {
            if (codec.layout().row(1) != 4 || codec.rowSpacePerBlock()) {
                throw new IllegalArgumentException("KeyTile32 needs G = 32 and a frozen channel split");
            }
            this.math = math;
            this.layout = codec.layout();
            this.format = codec.format();
            this.d = headDim;
            this.a = layout.anomalous();
            this.n = layout.normal();
            this.scales = new float[headDim];
            this.zeros = new float[Math.max(1, a)];
            this.words = new int[2 * a + n];
        }

        @Override
        public void rows(MemorySegment page, long off, HeadState state, MemorySegment tile, long dst, CodecScratch scratch) {
            format.decodeScales(page, off + layout.scale(0), a, state.keySuper, 0, scales, 0);
            format.decodeZeros(page, off + layout.zero(0), a, scales, 0, zeros, 0);
            format.decodeScales(page, off + layout.componentScale(0), n, state.keySuper, a, scales, a);
            math.vidkvKeyTile32(page, off + layout.row(0), a, n, scales, zeros, words, tile, dst, d);
        }
    }

    /**
     * Prefill tiles of ternary values (BASE3, G = 32, no protected tokens): six 5-trit bytes and a
     * 2-trit tail per channel decoded straight into the native tile, token-major, eight channels per
     * int vector ({@link KernelMath#ternaryTile32}).
     */
    static final class TernaryTile32 implements ValueTile {
        private final KernelMath math;
        private final TernaryLayout layout;
        private final MetadataCodes format;
        private final int d;
        private final float[] scales;
        /** The block's code bytes widened and transposed, byte i of channel c at [i d + c] (the tail as byte 6). */
        private final int[] bytes;

        TernaryTile32(KernelMath math, TernaryValueCodec codec, int headDim) {
            TernaryLayout l = codec.layout();
            if (!l.base3() || l.protection() || l.fullBytes() != 6 || l.tailBits() != 4 || headDim % 8 != 0) {
                throw new IllegalArgumentException("TernaryTile32 needs BASE3 values of G = 32 without protection, d % 8 = 0");
            }
            this.math = math;
            this.layout = l;
            this.format = codec.format();
            this.d = headDim;
            this.scales = new float[headDim];
            this.bytes = new int[7 * headDim];
        }

        @Override
        public void values(MemorySegment page, long off, HeadState state, MemorySegment tile, long dst, CodecScratch scratch) {
            format.decodeScales(page, off + layout.scale(0), d, state.valueSuper, 0, scales, 0);
            math.ternaryTile32(page, off, off + layout.tail(), scales, bytes, tile, dst, d);
        }
    }

    /**
     * Ternary values per token ({@link TernaryTokenCodec}): the per-channel kernel above with each
     * token's probability weighted by its scale in the token tables, and the head's channel
     * normalizers as the channel scales: out[c] += n_c (S+ - S-) with S+- sums of p_t s_t.
     */
    static final class TernaryTokenValues implements ValueKernel {
        private final KernelMath math;
        private final TernaryTokenCodec codec;
        private final TernaryLayout layout;
        private final int d;
        private final int g;

        TernaryTokenValues(KernelMath math, TernaryTokenCodec codec, int groupSize, int headDim) {
            this.math = math;
            this.codec = codec;
            this.layout = codec.layout();
            this.d = headDim;
            this.g = groupSize;
        }

        @Override
        public void accumulate(MemorySegment page, long off, HeadState state, BlockScratch s, float[] out, int outOff) {
            codec.tokenScales(page, off, s.perToken);
            math.tokenTables(s.scores, s.perToken, g, s.tokenTables);
            math.ternaryBase3(page, off, layout.fullBytes(), off + layout.tail(), layout.tailBits(), d, s.tokenTables,
                    state.valueSuper, s.rescale, out, outOff);
        }
    }

    /** The codec's query transform for {@code heads} queries, then into lanes. */
    static void rowSpace(KeyCodec codec, int d, float[] q, int qOff, int heads, float scale, HeadState state, float[] out,
                         int outOff, BlockScratch s) {
        System.arraycopy(q, qOff, s.codec.f1, 0, heads * d);
        codec.transformQuery(s.codec.f1, heads, scale, state, s.codec.f2, s.codec);
        BlockScratch.toLanes(s.codec.f2, 0, heads, d, out, outOff);
    }

    /**
     * Ternary values. Per block: the 32 subset sums of each five tokens' probabilities (token
     * tables); per channel, each base-3 byte of five tokens is looked up as (mask of +1 tokens, mask
     * of -1 tokens), so S+ and S- (the probability mass on +1 and -1) cost two table loads per five
     * tokens; the channel's scale is applied once, to S+ - S-. Protected tokens (2-bit, min/max over
     * the block's protected tokens) are added one token at a time: there are few of them.
     */
    static final class TernaryValues implements ValueKernel {
        private final KernelMath math;
        private final TernaryLayout layout;
        private final MetadataCodes format;
        private final int d;
        private final int g;

        TernaryValues(KernelMath math, TernaryValueCodec codec, int groupSize, int headDim) {
            this.math = math;
            this.layout = codec.layout();
            this.format = codec.format();
            this.d = headDim;
            this.g = groupSize;
        }

        @Override
        public void accumulate(MemorySegment page, long off, HeadState state, BlockScratch s, float[] out, int outOff) {
            float[] scales = s.scales;
            format.decodeScales(page, off + layout.scale(0), d, state.valueSuper, 0, scales, 0);
            math.tokenTables(s.scores, s.ones, g, s.tokenTables);
            if (layout.base3()) {
                math.ternaryBase3(page, off, layout.fullBytes(), off + layout.tail(), layout.tailBits(), d, s.tokenTables,
                        scales, s.rescale, out, outOff);
            } else {
                math.ternaryPlanes(page, off, g, d, s.tokenTables, scales, s.rescale, out, outOff);
            }
            if (layout.protection()) {
                protectedTokens(page, off, state, s, out, outOff);
            }
        }

        private void protectedTokens(MemorySegment page, long off, HeadState state, BlockScratch s, float[] out, int outOff) {
            long mask = 0;
            for (int b = 0; b < g / 8; b++) {
                mask |= (long) (page.get(ValueLayout.JAVA_BYTE, off + layout.mask() + b) & 0xFF) << (8 * b);
            }
            int p = Long.bitCount(mask);
            if (p == 0) {
                return;
            }
            format.decodeScales(page, off + layout.protectedScale(p, 0), d, state.valueSuper, 0, s.scales, 0);
            format.decodeZeros(page, off + layout.protectedZero(p, 0), d, s.scales, 0, s.zeros, 0);
            float[] v = s.mul; // one protected token's dequantized values
            int i = 0;
            for (int t = 0; t < g; t++) {
                if ((mask >>> t & 1) == 0) {
                    continue;
                }
                long p0 = off + layout.protectedPlane(i, 0), p1 = off + layout.protectedPlane(i, 1);
                i++;
                for (int c = 0; c < d; c++) {
                    int code = (page.get(ValueLayout.JAVA_BYTE, p0 + c / 8) >>> (c & 7) & 1)
                            + 2 * (page.get(ValueLayout.JAVA_BYTE, p1 + c / 8) >>> (c & 7) & 1);
                    v[c] = Math.fma(s.scales[c], code, s.zeros[c]);
                }
                math.axpyToken(s.scores, t, v, 0, d, out, outOff);
            }
        }
    }
}
