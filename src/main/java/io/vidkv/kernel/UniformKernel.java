package io.vidkv.kernel;

import io.vidkv.codec.HeadState;
import io.vidkv.codec.MetadataCodes;
import io.vidkv.codec.UniformCodec;
import io.vidkv.layout.UniformLayout;

import java.lang.foreign.MemorySegment;

import static io.vidkv.kernel.KernelMath.LANES;
import static io.vidkv.kernel.KernelMath.TOKEN_TABLE;

/**
 * The uniform layout family ({@link UniformLayout}): k-bit min/max codes, keys per channel (KIVI,
 * VidKV-2) and values per channel or per token (VidKV-2, KIVI), FP16 or compact parameters.
 */
final class UniformKernel {

    private UniformKernel() {
    }

    /**
     * Per-channel keys. score(t) = sum_c q_c (zero_c + scale_c code_tc) = bias + sum over set bits
     * (p, c) of 2^p q_c scale_c, with bias = sum_c q_c zero_c: the parameters fold into one weight
     * per bit row, then {@link BitPlaneScores} adds them under each row's token mask.
     */
    static final class Keys implements KeyKernel {
        private final KernelMath math;
        private final UniformLayout layout;
        private final MetadataCodes format;
        private final int d;
        private final int g;

        Keys(KernelMath math, UniformCodec codec, int groupSize, int headDim) {
            if (!codec.layout().perChannel()) {
                throw new IllegalArgumentException("per-token keys are attended through the dequantizing kernel");
            }
            this.math = math;
            this.layout = codec.layout();
            this.format = codec.format();
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
            float[] sc = s.scales, z = s.zeros;
            format.decodeScales(page, off + layout.scale(0), d, state.keySuper, 0, sc, 0);
            format.decodeZeros(page, off + layout.zero(0), d, sc, 0, z, 0);
            java.util.Arrays.fill(s.bias, 0f);
            for (int p = 0; p < layout.bits(); p++) {
                math.foldWeights(prepared, pOff, sc, d, 1 << p, s.weights, layout.keyRow(p, 0));
            }
            math.foldZeros(prepared, pOff, z, d, s.bias);
            BitPlaneScores.score(math, page, off, layout.keyRows(), g, s);
        }
    }

    /**
     * Values. Per channel: out_c += scale_c * A_c + zero_c * sum_t p_t, where A_c = sum over planes
     * p of 2^p (probability mass of the tokens whose bit p is set), one token-table load per five
     * tokens and plane. Per token (KIVI): the scale belongs to the token, so the token tables are
     * built from p_t scale_t per channel group and the zero term is sum_t p_t zero_t.
     */
    static final class Values implements ValueKernel {
        private final KernelMath math;
        private final UniformLayout layout;
        private final MetadataCodes format;
        private final int d;
        private final int g;

        Values(KernelMath math, UniformCodec codec, int groupSize, int headDim) {
            this.math = math;
            this.layout = codec.layout();
            this.format = codec.format();
            this.d = headDim;
            this.g = groupSize;
        }

        @Override
        public void accumulate(MemorySegment page, long off, HeadState state, BlockScratch s, float[] out, int outOff) {
            float[] p = s.scores;
            if (layout.perChannel()) {
                math.tokenTables(p, s.ones, g, s.tokenTables);
                float[] mass = s.bias; // sum_t p_t: the full entry (31) of every token table
                java.util.Arrays.fill(mass, 0f);
                for (int i = 0; 5 * i < g; i++) {
                    for (int j = 0; j < LANES; j++) {
                        mass[j] += s.tokenTables[i * TOKEN_TABLE + 31 * LANES + j];
                    }
                }
                format.decodeScales(page, off + layout.scale(0), d, state.valueSuper, 0, s.mul, 0);
                format.decodeZeros(page, off + layout.zero(0), d, s.mul, 0, s.zeros, 0);
                for (int c = 0; c < d; c++) {
                    for (int j = 0; j < LANES; j++) {
                        s.add[c * LANES + j] = s.zeros[c] * mass[j];
                    }
                }
                math.uniformValues(page, off, layout.bits(), g, 0, d, s.tokenTables, s.mul, s.add, LANES, s.rescale, out, outOff);
                return;
            }
            int cg = layout.channelGroup(), groups = d / cg;
            if (format == MetadataCodes.FP16) { // no super-scales: all parameters in two bulk reads
                format.decodeScales(page, off + layout.scale(0), g * groups, state.valueSuper, 0, s.scales, 0);
                format.decodeZeros(page, off + layout.zero(0), g * groups, s.scales, 0, s.zeros, 0);
            } else {
                for (int t = 0; t < g; t++) { // token t's parameters are contiguous, one per channel group
                    int p0 = layout.param(t, 0);
                    format.decodeScales(page, off + layout.scale(p0), groups, state.valueSuper, 0, s.scales, p0);
                    format.decodeZeros(page, off + layout.zero(p0), groups, s.scales, p0, s.zeros, p0);
                }
            }
            float[] zeroTerm = s.bias;
            for (int k = 0; k < groups; k++) {
                float[] tokenZeros = s.tokenZeros;
                for (int t = 0, p0 = k; t < g; t++, p0 += groups) { // parameter t * groups + k
                    s.perToken[t] = s.scales[p0];
                    tokenZeros[t] = s.zeros[p0];
                }
                java.util.Arrays.fill(zeroTerm, 0f);
                math.foldZeros(p, 0, tokenZeros, g, zeroTerm); // sum_t p_t zero_t, lane by lane
                math.tokenTables(p, s.perToken, g, s.tokenTables);
                java.util.Arrays.fill(s.mul, k * cg, (k + 1) * cg, 1f);
                math.uniformValues(page, off, layout.bits(), g, k * cg, (k + 1) * cg, s.tokenTables, s.mul, zeroTerm, 0,
                        s.rescale, out, outOff); // one zero term for the whole channel group

            }
        }
    }
}
