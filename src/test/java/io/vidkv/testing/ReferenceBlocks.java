package io.vidkv.testing;

import io.vidkv.internal.CacheAccess;
import io.vidkv.internal.HeadStream;
import io.vidkv.KvCache;
import io.vidkv.LayerConfig;
import io.vidkv.codec.HeadState;
import io.vidkv.codec.MetadataCodes;
import io.vidkv.QuantAxis;
import io.vidkv.TernaryPacking;
import io.vidkv.layout.Fp16Layout;
import io.vidkv.layout.TernaryLayout;
import io.vidkv.layout.UniformLayout;
import io.vidkv.layout.VidkvKeyLayout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * An independent float64 dequantizer of a cache's blocks, written only from METHOD.md, the layout
 * files in {@code io.vidkv.layout} (every offset and bit order) and {@link MetadataCodes} (how a
 * stored scale or zero point decodes). It shares no code with the codecs' decoders: bits are read
 * byte by byte here, trits are divided out digit by digit, and the inverse real DFT is the textbook
 * float64 sum, so a decoding bug in a codec or a kernel shows up as a disagreement with this class.
 *
 * <p>Layout geometry is built here from the {@link LayerConfig} (the layout classes are the spec;
 * the codecs' own layout objects are not consulted). The reference mode presets
 * ({@code vidkv-reference-*}) are not covered: they exist only to reproduce the paper's code and
 * may dequantize, so there is no fused path to check; they throw {@link UnsupportedOperationException}.
 */
public final class ReferenceBlocks {

    private ReferenceBlocks() {
    }

    /**
     * {keys[tokens][d], values[tokens][d]} of (layer, head): the retained tokens in position order,
     * blocks decoded from their bytes, then the residual window as stored.
     */
    public static double[][][] dequantize(KvCache cache, int layer, int head) {
        HeadStream hs = CacheAccess.stream(cache, layer, head);
        LayerConfig lc = cache.layerConfig(layer);
        int d = cache.shape().headDim(), g = lc.groupSize(), n = cache.retainedTokenCount(layer);
        double[][] k = new double[n][];
        double[][] v = new double[n][];
        long keyBytes = CacheAccess.keyCodec(cache, layer).blockBytes();
        for (int b = 0; b < hs.blockCount(); b++) {
            MemorySegment page = hs.page(b);
            long off = hs.offset(b);
            double[][] kb = keys(lc, d, page, off, hs.state());
            double[][] vb = values(lc, d, page, off + keyBytes, hs.state());
            System.arraycopy(kb, 0, k, b * g, g);
            System.arraycopy(vb, 0, v, b * g, g);
        }
        for (int j = 0; j < hs.windowCount(); j++) {
            int t = hs.blockCount() * g + j;
            k[t] = windowRow(hs.windowKeys(j), hs.windowSlot(j), d);
            v[t] = windowRow(hs.windowValues(j), hs.windowSlot(j), d);
        }
        return new double[][][]{k, v};
    }

    /** The keys of one block, [G][d] in channel space. */
    public static double[][] keys(LayerConfig lc, int d, MemorySegment seg, long off, HeadState state) {
        int g = lc.groupSize();
        MetadataCodes f = MetadataCodes.of(lc.metadata());
        return switch (lc.keys().kind()) {
            case FP16 -> fp16(new Fp16Layout(g, d), g, d, seg, off);
            case UNIFORM -> uniform(uniformLayout(lc.keys().bits(), lc.keys().axis(), lc, d), true, g, d, f,
                    state.keySuper, seg, off);
            case VIDKV -> vidkv(lc, d, seg, off, state);
            case REFERENCE -> throw new UnsupportedOperationException("reference mode blocks are not covered");
        };
    }

    /** The values of one block, [G][d]. */
    public static double[][] values(LayerConfig lc, int d, MemorySegment seg, long off, HeadState state) {
        int g = lc.groupSize();
        MetadataCodes f = MetadataCodes.of(lc.metadata());
        return switch (lc.values().kind()) {
            case FP16 -> fp16(new Fp16Layout(g, d), g, d, seg, off);
            case UNIFORM -> uniform(uniformLayout(lc.values().bits(), lc.values().axis(), lc, d), false, g, d, f,
                    state.valueSuper, seg, off);
            case TERNARY -> ternary(new TernaryLayout(lc.values().packing() == TernaryPacking.BASE3, lc.values().protection(),
                    lc.values().axis() == QuantAxis.PER_TOKEN, lc.values().tokenScaleBits(), g, d, f.bytes()), g, d, f,
                    state.valueSuper, seg, off);
            case REFERENCE -> throw new UnsupportedOperationException("reference mode blocks are not covered");
        };
    }

    /** The VidKV key layout of a layer (anomalous count as METHOD.md section 2: round((keyBits - 1) d)). */
    public static VidkvKeyLayout vidkvLayout(LayerConfig lc, int d) {
        int a = (int) Math.round((lc.keys().keyBits() - 1.0) * d);
        return new VidkvKeyLayout(lc.groupSize(), d, a, lc.metadata().bytes(), lc.keys().splitPerGroup());
    }

    /**
     * Row order of a VidKV key block: order[r] is the channel of row r (anomalous rows first). With a
     * per-group split it comes from the block's mask (anomalous channels ascending, then the normal
     * ones ascending), otherwise from the head's frozen key order.
     */
    public static int[] keyRowOrder(LayerConfig lc, int d, MemorySegment seg, long off, HeadState state) {
        if (!lc.keys().splitPerGroup()) {
            return state.keyOrder.clone();
        }
        VidkvKeyLayout layout = vidkvLayout(lc, d);
        int[] order = new int[d];
        int r = 0;
        for (int pass = 1; pass >= 0; pass--) {
            for (int c = 0; c < d; c++) {
                if (bit(seg, off + layout.mask(), c) == pass) {
                    order[r++] = c;
                }
            }
        }
        if (popcount(seg, off + layout.mask(), d) != layout.anomalous()) {
            throw new AssertionError("channel mask marks " + popcount(seg, off + layout.mask(), d) + " anomalous channels, layout has "
                    + layout.anomalous());
        }
        return order;
    }

    /** Decoded scale of a VidKV key component j of the block (the +-s of its sign bits). */
    public static double componentScale(LayerConfig lc, int d, MemorySegment seg, long off, HeadState state, int j) {
        VidkvKeyLayout layout = vidkvLayout(lc, d);
        return scale(MetadataCodes.of(lc.metadata()), seg, off + layout.componentScale(j), state.keySuper[layout.anomalous() + j]);
    }

    /** Sign bit of component j of token t of a VidKV key block (1 = +scale). */
    public static int componentSign(LayerConfig lc, int d, MemorySegment seg, long off, int t, int j) {
        VidkvKeyLayout layout = vidkvLayout(lc, d);
        return bit(seg, off + layout.row(layout.signRow(j)), t);
    }

    private static UniformLayout uniformLayout(int bits, QuantAxis axis, LayerConfig lc, int d) {
        return new UniformLayout(bits, axis == QuantAxis.PER_CHANNEL, lc.groupSize(), d, lc.metadata().bytes());
    }

    private static double[][] fp16(Fp16Layout layout, int g, int d, MemorySegment seg, long off) {
        double[][] x = new double[g][d];
        for (int t = 0; t < g; t++) {
            for (int c = 0; c < d; c++) {
                x[t][c] = Float.float16ToFloat(seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, off + layout.element(t, c)));
            }
        }
        return x;
    }

    /**
     * Uniform codes: x = zero + scale * code. The COMPACT8 super-scale of a parameter is that of its
     * channel (per channel) or of its channel group (per token).
     */
    private static double[][] uniform(UniformLayout layout, boolean keyLayout, int g, int d, MetadataCodes f, float[] sup,
                                      MemorySegment seg, long off) {
        double[][] x = new double[g][d];
        for (int t = 0; t < g; t++) {
            for (int c = 0; c < d; c++) {
                int code = 0;
                for (int p = 0; p < layout.bits(); p++) {
                    int b = keyLayout ? bit(seg, off + layout.keyRowOffset(layout.keyRow(p, c)), t)
                            : bit(seg, off + layout.valuePlane(c, p), t);
                    code |= b << p;
                }
                int param = layout.param(t, c);
                float superScale = sup[layout.perChannel() ? c : c / layout.channelGroup()];
                float scale = scale(f, seg, off + layout.scale(param), superScale);
                double zero = f.decodeZero(f.readRaw(seg, off + layout.zero(param)), scale);
                x[t][c] = zero + (double) scale * code;
            }
        }
        return x;
    }

    /** VidKV keys: anomalous rows zero + scale * code, components +-scale, then the inverse real DFT. */
    private static double[][] vidkv(LayerConfig lc, int d, MemorySegment seg, long off, HeadState state) {
        int g = lc.groupSize();
        MetadataCodes f = MetadataCodes.of(lc.metadata());
        VidkvKeyLayout layout = vidkvLayout(lc, d);
        int a = layout.anomalous(), n = layout.normal();
        int[] order = keyRowOrder(lc, d, seg, off, state);
        double[][] x = new double[g][d];
        for (int t = 0; t < g; t++) {
            for (int r = 0; r < a; r++) {
                float scale = scale(f, seg, off + layout.scale(r), state.keySuper[r]);
                double zero = f.decodeZero(f.readRaw(seg, off + layout.zero(r)), scale);
                int code = bit(seg, off + layout.row(layout.lowRow(r)), t) + 2 * bit(seg, off + layout.row(layout.highRow(r)), t);
                x[t][order[r]] = zero + (double) scale * code;
            }
            double[] comp = new double[n];
            for (int j = 0; j < n; j++) {
                double s = scale(f, seg, off + layout.componentScale(j), state.keySuper[a + j]);
                comp[j] = bit(seg, off + layout.row(layout.signRow(j)), t) == 1 ? s : -s;
            }
            double[] normal = lc.keys().spectral() ? inverseRealDft(comp) : comp;
            for (int m = 0; m < n; m++) {
                x[t][order[a + m]] = normal[m];
            }
        }
        return x;
    }

    /**
     * Inverse of the n real components of METHOD.md section 7 (component j: Re X0 for j = 0,
     * Re X((j+1)/2) for odd j, Im X(j/2) for even j > 0; for even n the last, odd, one is Re X(n/2)):
     * x_m = (1/n) [X0 + 2 sum_{0<k<n/2} (Re Xk cos(2 pi k m/n) - Im Xk sin(2 pi k m/n)) + (n even) X(n/2) (-1)^m].
     */
    public static double[] inverseRealDft(double[] comp) {
        int n = comp.length;
        if (n == 0) {
            return comp;
        }
        double[] re = new double[n / 2 + 1];
        double[] im = new double[n / 2 + 1];
        re[0] = comp[0];
        for (int j = 1; j < n; j++) {
            if (j % 2 == 1) {
                re[(j + 1) / 2] = comp[j];
            } else {
                im[j / 2] = comp[j];
            }
        }
        double[] x = new double[n];
        for (int m = 0; m < n; m++) {
            double s = re[0];
            for (int k = 1; 2 * k < n; k++) {
                double angle = 2 * Math.PI * ((long) k * m % n) / n;
                s += 2 * (re[k] * Math.cos(angle) - im[k] * Math.sin(angle));
            }
            if (n % 2 == 0) {
                s += m % 2 == 0 ? re[n / 2] : -re[n / 2];
            }
            x[m] = s / n;
        }
        return x;
    }

    /**
     * The n real components of the forward DFT of x (unnormalized, X_k = sum_m x_m e^{-2 pi i k m/n}),
     * in the component order of {@link #inverseRealDft}.
     */
    public static double[] realDftComponents(double[] x) {
        int n = x.length;
        double[] comp = new double[n];
        for (int j = 0; j < n; j++) {
            int k = j == 0 ? 0 : j % 2 == 1 ? (j + 1) / 2 : j / 2;
            boolean imag = j > 0 && j % 2 == 0;
            double s = 0;
            for (int m = 0; m < n; m++) {
                double angle = 2 * Math.PI * ((long) k * m % n) / n;
                s += imag ? -x[m] * Math.sin(angle) : x[m] * Math.cos(angle);
            }
            comp[j] = s;
        }
        return comp;
    }

    /**
     * Ternary values: trit digits 0, 1, 2 mean 0, +1, -1 and decode to scale_c * trit; protected
     * tokens (mask bit set) take zero_c + scale_c * code of their 2-bit planes instead. Per token
     * (token scales): n_c * scale_t * trit, n_c the head's channel normalizer.
     */
    private static double[][] ternary(TernaryLayout layout, int g, int d, MetadataCodes f, float[] sup, MemorySegment seg,
                                      long off) {
        double[][] x = new double[g][d];
        int q = layout.fullBytes();
        double[] tokenScale = new double[g];
        for (int t = 0; t < g && layout.tokenScales(); t++) {
            int b = layout.tokenScaleBits();
            if (b != 0) { // block scale S, step byte j, then token t's b bits at bit b t, LSB first:
                // S x 2^(-(2^b - 1 - code) x octaves[j]), octaves = 1/4, 1/3, 1/2, 2/3, 1, 4/3, 2, 3
                int j = seg.get(ValueLayout.JAVA_BYTE, off + layout.blockScale() + f.bytes()) & 0xFF;
                double octaves = new double[] {0.25, 1 / 3.0, 0.5, 2 / 3.0, 1, 4 / 3.0, 2, 3}[j];
                int code = bits(seg, off + layout.blockScale() + f.bytes() + 1, b * t, b);
                tokenScale[t] = (double) scale(f, seg, off + layout.blockScale(), TernaryLayout.TOKEN_SUPER)
                        * Math.pow(2, -(((1 << b) - 1) - code) * octaves);
            } else {
                tokenScale[t] = scale(f, seg, off + layout.scale(t), TernaryLayout.TOKEN_SUPER);
            }
        }
        for (int c = 0; c < d; c++) {
            double channelScale = layout.tokenScales() ? sup[c] : scale(f, seg, off + layout.scale(c), sup[c]);
            for (int t = 0; t < g; t++) {
                double scale = layout.tokenScales() ? channelScale * tokenScale[t] : channelScale;
                int trit;
                if (layout.base3()) {
                    int packed = t < 5 * q ? seg.get(ValueLayout.JAVA_BYTE, off + layout.trits(c, t / 5)) & 0xFF
                            : bits(seg, off + layout.tail(), c * layout.tailBits(), layout.tailBits());
                    int digit = packed / pow3(t < 5 * q ? t % 5 : t - 5 * q) % 3;
                    trit = digit == 2 ? -1 : digit;
                } else {
                    int nz = bit(seg, off + layout.nonzeroPlane(c), t);
                    int neg = bit(seg, off + layout.negativePlane(c), t);
                    trit = nz == 0 ? 0 : neg == 1 ? -1 : 1;
                }
                x[t][c] = scale * trit;
            }
        }
        if (layout.protection()) {
            int p = popcount(seg, off + layout.mask(), g);
            int i = 0;
            for (int t = 0; t < g; t++) {
                if (bit(seg, off + layout.mask(), t) == 0) {
                    continue;
                }
                for (int c = 0; c < d; c++) {
                    if (x[t][c] != 0) {
                        throw new AssertionError("protected token " + t + " channel " + c + " has a nonzero trit");
                    }
                    float scale = scale(f, seg, off + layout.protectedScale(p, c), sup[c]);
                    double zero = f.decodeZero(f.readRaw(seg, off + layout.protectedZero(p, c)), scale);
                    int code = bit(seg, off + layout.protectedPlane(i, 0), c) + 2 * bit(seg, off + layout.protectedPlane(i, 1), c);
                    x[t][c] = zero + (double) scale * code;
                }
                i++;
            }
        }
        return x;
    }

    private static float scale(MetadataCodes f, MemorySegment seg, long at, float superScale) {
        return f.decodeScale(f.readRaw(seg, at), superScale);
    }

    private static int pow3(int k) {
        int p = 1;
        for (int i = 0; i < k; i++) {
            p *= 3;
        }
        return p;
    }

    /** Bit i of the little-endian bit string at byte {@code at}. */
    static int bit(MemorySegment seg, long at, int i) {
        return (seg.get(ValueLayout.JAVA_BYTE, at + i / 8) >> (i % 8)) & 1;
    }

    /** Bits [from, from + width) of the bit string at {@code at}, bit from as the least significant. */
    private static int bits(MemorySegment seg, long at, int from, int width) {
        int v = 0;
        for (int i = 0; i < width; i++) {
            v |= bit(seg, at, from + i) << i;
        }
        return v;
    }

    private static int popcount(MemorySegment seg, long at, int bits) {
        int n = 0;
        for (int i = 0; i < bits; i++) {
            n += bit(seg, at, i);
        }
        return n;
    }

    private static double[] windowRow(MemorySegment window, int slot, int d) {
        double[] row = new double[d];
        for (int c = 0; c < d; c++) {
            row[c] = window.getAtIndex(ValueLayout.JAVA_FLOAT, (long) slot * d + c);
        }
        return row;
    }
}
