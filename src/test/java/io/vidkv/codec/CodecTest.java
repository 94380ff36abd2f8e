package io.vidkv.codec;

import io.vidkv.TernaryPacking;
import io.vidkv.SplitMetric;
import io.vidkv.QuantAxis;
import io.vidkv.testing.Float64Reference;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each codec against float64 reference quantizers on random data with outlier channels, exact
 * codes on hand-computed cases, and bit-exact packing round trips. Tolerances are stated per test.
 */
class CodecTest {

    private static Arena arena;
    private static MemorySegment block;

    @BeforeAll
    static void setUp() {
        arena = Arena.ofShared();
        block = arena.allocate(1 << 20, 64);
    }

    @AfterAll
    static void tearDown() {
        arena.close();
    }

    /** [g][d] floats: a quarter of the channels 8x larger and offset, token magnitudes varying. */
    static float[] data(SplittableRandom rnd, int g, int d) {
        float[] x = new float[g * d];
        double[] scale = new double[d];
        double[] offset = new double[d];
        for (int c = 0; c < d; c++) {
            boolean outlier = rnd.nextInt(4) == 0;
            scale[c] = outlier ? 8 : 1;
            offset[c] = outlier ? rnd.nextGaussian() * 5 : 0;
        }
        for (int t = 0; t < g; t++) {
            double ts = Math.exp(rnd.nextDouble(-1, 1));
            for (int c = 0; c < d; c++) {
                x[t * d + c] = (float) (offset[c] + scale[c] * ts * rnd.nextGaussian());
            }
        }
        return x;
    }

    @ParameterizedTest(name = "bits={0} {1} key={2} {3} G={4} d={5}")
    @CsvSource({
            "1, PER_CHANNEL, true, FP16, 32, 64", "2, PER_CHANNEL, true, FP16, 32, 128", "3, PER_CHANNEL, false, FP16, 16, 64",
            "4, PER_TOKEN, false, FP16, 32, 128", "8, PER_TOKEN, true, FP16, 32, 64", "2, PER_TOKEN, false, FP16, 64, 128",
            "2, PER_CHANNEL, true, COMPACT8, 32, 128", "4, PER_TOKEN, false, COMPACT8, 32, 64", "2, PER_CHANNEL, false, FP16, 8, 24"})
    void uniformIsAsGoodAsTheFloat64Quantizer(int bits, QuantAxis axis, boolean key, MetadataCodes fmt, int g, int d) {
        SplittableRandom rnd = TestSeeds.random(bits, axis.ordinal(), key ? 1 : 0, fmt.ordinal(), g, d);
        UniformCodec codec = new UniformCodec(bits, axis, key, fmt, g, d);
        HeadState st = new HeadState(d);
        try (CodecScratch s = new CodecScratch(d, g, 4)) {
            float[] x = data(rnd, g, d);
            codec.calibrate(x, g, st, s);
            codec.encode(x, st, block, 0, s);
            float[] out = new float[g * d];
            codec.dequantize(block, 0, st, out, s);
            int levels = 1 << bits;
            int cg = axis == QuantAxis.PER_CHANNEL ? g : (d % g == 0 ? g : d);
            // float64 reference: same (stored) parameters, float64 rounding of codes.
            double worst = 0;
            for (int t = 0; t < g; t++) {
                for (int c = 0; c < d; c++) {
                    double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
                    for (int u = 0; u < g; u++) {
                        for (int e = 0; e < d; e++) {
                            boolean same = axis == QuantAxis.PER_CHANNEL ? e == c : (u == t && e / cg == c / cg);
                            if (same) {
                                min = Math.min(min, x[u * d + e]);
                                max = Math.max(max, x[u * d + e]);
                            }
                        }
                    }
                    double step = (max - min) / (levels - 1);
                    double ideal = step == 0 ? 0 : Math.abs(x[t * d + c] - (min + step * Math.round((x[t * d + c] - min) / step)));
                    double err = Math.abs(x[t * d + c] - out[t * d + c]);
                    // parameters are rounded to FP16 (or 8-bit log codes): allow that rounding on top of ideal
                    double paramSlack = fmt == MetadataCodes.FP16 ? 2e-3 * (Math.abs(min) + Math.abs(max)) + 1e-6
                            : 0.04 * (max - min) + 0.13 * step + 1e-6;
                    assertTrue(err <= ideal + step * 0.5 + paramSlack,
                            "t=" + t + " c=" + c + " x=" + x[t * d + c] + " got " + out[t * d + c] + TestSeeds.replay());
                    worst = Math.max(worst, err / Math.max(step, 1e-9));
                }
            }
            assertTrue(worst < 1.2, "worst error " + worst + " quantization steps");
        }
    }

    @Test
    void uniformTwoBitHandComputedCodes() {
        int g = 8, d = 8;
        float[] x = new float[g * d];
        float[] ch0 = {0, 1, 2, 3, 4, 5, 6, 6};
        for (int t = 0; t < g; t++) {
            x[t * d] = ch0[t];
        }
        UniformCodec codec = new UniformCodec(2, QuantAxis.PER_CHANNEL, true, MetadataCodes.FP16, g, d);
        HeadState st = new HeadState(d);
        try (CodecScratch s = new CodecScratch(d, g, 1)) {
            codec.encode(x, st, block, 0, s);
            float[] out = new float[g * d];
            codec.dequantize(block, 0, st, out, s);
            float[] want = {0, 2, 2, 4, 4, 6, 6, 6}; // scale 2, zero 0, codes 0 1 1 2 2 3 3 3 (round half up)
            for (int t = 0; t < g; t++) {
                assertEquals(want[t], out[t * d], 0f, "token " + t);
            }
        }
    }

    @Test
    void ternaryHandComputedCodesAndScale() {
        int g = 8, d = 8;
        float[] x = new float[g * d];
        float[] ch = {1, -1, 0.1f, -0.1f, 2, -2, 0, 0.5f};
        for (int t = 0; t < g; t++) {
            x[t * d + 3] = ch[t];
        }
        // mean|v| = 0.8375, threshold 0.58625: codes 1 -1 0 0 1 -1 0 0, scale = mean of |nonzero| = 1.5
        float[] want = {1.5f, -1.5f, 0, 0, 1.5f, -1.5f, 0, 0};
        for (TernaryPacking packing : TernaryPacking.values()) {
            TernaryValueCodec codec = new TernaryValueCodec(0.7, packing, false, MetadataCodes.FP16, g, d);
            try (CodecScratch s = new CodecScratch(d, g, 1)) {
                codec.encode(x, 0L, new HeadState(d), block, 0, s);
                float[] out = new float[g * d];
                codec.decode(block, 0, new HeadState(d), out, 0, s);
                for (int t = 0; t < g; t++) {
                    assertEquals(want[t], out[t * d + 3], 0f, packing + " token " + t);
                }
            }
        }
    }

    @ParameterizedTest(name = "G={0} d={1} protection={2} {3}")
    @CsvSource({"32, 128, false, FP16", "32, 64, true, FP16", "64, 128, false, COMPACT8", "16, 32, true, COMPACT8", "8, 8, true, FP16"})
    void ternaryMatchesFloat64ReferenceAndPackingsAgree(int g, int d, boolean protection, MetadataCodes fmt) {
        SplittableRandom rnd = TestSeeds.random(g, d, protection ? 1 : 0, fmt.ordinal(), 11);
        float[] x = data(rnd, g, d);
        long mask = protection ? rnd.nextLong() & (g == 64 ? -1L : (1L << g) - 1) : 0L;
        float[][] outs = new float[2][];
        long[] sizes = new long[2];
        for (TernaryPacking packing : TernaryPacking.values()) {
            TernaryValueCodec codec = new TernaryValueCodec(0.7, packing, protection, fmt, g, d);
            HeadState st = new HeadState(d);
            try (CodecScratch s = new CodecScratch(d, g, 1)) {
                codec.calibrate(x, g, st, s);
                long bytes = codec.encode(x, mask, st, block, 0, s);
                assertEquals(codec.blockBytes(Long.bitCount(mask)), bytes);
                float[] out = new float[g * d];
                codec.decode(block, 0, st, out, 0, s);
                outs[packing.ordinal()] = out;
                sizes[packing.ordinal()] = bytes;
            }
        }
        assertArrayEquals(outs[0], outs[1], "PLANES and BASE3 must decode to the same values");
        assertTrue(d < 16 ? sizes[1] <= sizes[0] : sizes[1] < sizes[0], "BASE3 must not be larger than PLANES");
        float[] out = outs[0];
        for (int c = 0; c < d; c++) {
            double sum = 0;
            int n = 0;
            for (int t = 0; t < g; t++) {
                if ((mask >>> t & 1) == 0) {
                    sum += Math.abs(x[t * d + c]);
                    n++;
                }
            }
            double threshold = 0.7 * sum / Math.max(n, 1);
            double nzSum = 0;
            int nz = 0;
            for (int t = 0; t < g; t++) {
                if ((mask >>> t & 1) == 0 && Math.abs(x[t * d + c]) > threshold) {
                    nzSum += Math.abs(x[t * d + c]);
                    nz++;
                }
            }
            double scale = nz == 0 ? 0 : nzSum / nz;
            double pmin = Double.POSITIVE_INFINITY, pmax = Double.NEGATIVE_INFINITY;
            for (int t = 0; t < g; t++) {
                if ((mask >>> t & 1) != 0) {
                    pmin = Math.min(pmin, x[t * d + c]);
                    pmax = Math.max(pmax, x[t * d + c]);
                }
            }
            for (int t = 0; t < g; t++) {
                double v = x[t * d + c];
                if ((mask >>> t & 1) != 0) {
                    double step = (pmax - pmin) / 3;
                    double slack = fmt == MetadataCodes.FP16 ? 2e-3 * (Math.abs(pmin) + Math.abs(pmax)) : 0.04 * (pmax - pmin) + 0.13 * step;
                    assertTrue(Math.abs(out[t * d + c] - v) <= step / 2 + slack + 1e-6,
                            "protected t=" + t + " c=" + c + TestSeeds.replay());
                    continue;
                }
                if (Math.abs(Math.abs(v) - threshold) < 1e-5 * threshold) {
                    continue; // a tie at the threshold may round either way in float32
                }
                double want = Math.abs(v) > threshold ? Math.signum(v) * scale : 0;
                double tol = fmt == MetadataCodes.FP16 ? 1e-3 * Math.abs(want) : 0.03 * Math.abs(want);
                assertEquals(want, out[t * d + c], tol + 1e-7, "t=" + t + " c=" + c + TestSeeds.replay());
            }
        }
    }

    @ParameterizedTest(name = "keyBits={0} G={1} d={2} spectral={3} {4}")
    @CsvSource({"1.5, 32, 128, true, FP16", "1.25, 32, 64, true, FP16", "1.75, 16, 64, true, COMPACT8",
            "1.5, 64, 128, true, COMPACT8", "1.5, 32, 64, false, FP16", "1.0, 32, 16, true, FP16", "2.0, 32, 32, true, FP16",
            "1.3, 8, 64, true, FP16", "1.7, 32, 96, true, COMPACT8", "1.125, 16, 24, true, FP16"})
    void vidkvKeysSplitQuantizeAndScoreInTheFrequencyDomain(double keyBits, int g, int d, boolean spectral, MetadataCodes fmt) {
        SplittableRandom rnd = TestSeeds.random((long) (keyBits * 100), g, d, spectral ? 1 : 0, fmt.ordinal());
        VidkvKeyCodec codec = new VidkvKeyCodec(keyBits, SplitMetric.RANGE, spectral, false, fmt, g, d);
        int a = codec.anomalousChannels();
        HeadState st = new HeadState(d);
        try (CodecScratch s = new CodecScratch(d, g, 3)) {
            float[] cal = data(rnd, 4 * g, d);
            codec.calibrate(cal, 4 * g, st, s);
            // the anomalous rows are the channels with the largest range
            double[] range = new double[d];
            for (int c = 0; c < d; c++) {
                double mn = Double.POSITIVE_INFINITY, mx = Double.NEGATIVE_INFINITY;
                for (int t = 0; t < 4 * g; t++) {
                    mn = Math.min(mn, cal[t * d + c]);
                    mx = Math.max(mx, cal[t * d + c]);
                }
                range[c] = mx - mn;
            }
            double minAnomalous = Double.POSITIVE_INFINITY, maxNormal = 0;
            for (int r = 0; r < d; r++) {
                if (r < a) {
                    minAnomalous = Math.min(minAnomalous, range[st.keyOrder[r]]);
                } else {
                    maxNormal = Math.max(maxNormal, range[st.keyOrder[r]]);
                }
            }
            assertTrue(a == 0 || a == d || minAnomalous >= maxNormal, "split must follow the channel range");

            float[] x = new float[g * d];
            System.arraycopy(cal, 0, x, 0, g * d);
            codec.encode(x, st, block, 0, s);
            float[] deq = new float[g * d];
            codec.dequantize(block, 0, st, deq, s);
            // anomalous channels: within half a 2-bit step (+ parameter rounding)
            for (int r = 0; r < a; r++) {
                int c = st.keyOrder[r];
                double mn = Double.POSITIVE_INFINITY, mx = Double.NEGATIVE_INFINITY;
                for (int t = 0; t < g; t++) {
                    mn = Math.min(mn, x[t * d + c]);
                    mx = Math.max(mx, x[t * d + c]);
                }
                double step = (mx - mn) / 3;
                double slack = fmt == MetadataCodes.FP16 ? 2e-3 * (Math.abs(mn) + Math.abs(mx)) : 0.04 * (mx - mn) + 0.13 * step;
                for (int t = 0; t < g; t++) {
                    assertTrue(Math.abs(deq[t * d + c] - x[t * d + c]) <= step / 2 + slack + 1e-6, "anomalous c=" + c);
                }
            }
            // normal channels: row space holds +-mean|component| with the float64 DFT's signs
            int n = d - a;
            float[] rows = rowsFromLayout(codec, fmt, st, g, d);
            for (int t = 0; t < g && n > 0; t++) {
                double[] v = new double[n];
                for (int j = 0; j < n; j++) {
                    v[j] = x[t * d + st.keyOrder[a + j]];
                }
                double[] spec = spectral ? Float64Reference.realDft(v) : null;
                for (int j = 0; j < n; j++) {
                    double comp = spectral ? spec[j == 0 ? 0 : j + 1] : v[j];
                    float got = rows[(a + j) * g + t];
                    if (Math.abs(comp) > 1e-3 * Math.abs(got)) {
                        assertEquals(Math.signum(comp), Math.signum(got), "sign of component " + j + " token " + t + TestSeeds.replay());
                    }
                }
            }
            // Parseval: transformed query . rows == q . dequantized keys
            float[] q = new float[3 * d];
            for (int i = 0; i < q.length; i++) {
                q[i] = (float) rnd.nextGaussian();
            }
            float[] qt = new float[3 * d];
            codec.transformQuery(q, 3, 0.5f, st, qt, s);
            for (int i = 0; i < 3; i++) {
                for (int t = 0; t < g; t++) {
                    double fused = 0, ref = 0, mag = 0;
                    for (int r = 0; r < d; r++) {
                        fused += (double) qt[i * d + r] * rows[r * g + t];
                        ref += 0.5 * q[i * d + r] * deq[t * d + r];
                        mag += Math.abs(0.5 * q[i * d + r] * deq[t * d + r]);
                    }
                    assertEquals(ref, fused, 1e-5 * mag + 1e-6, "query " + i + " token " + t + TestSeeds.replay());
                }
            }
        }
    }

    /**
     * The block's row space straight from {@link io.vidkv.layout.VidkvKeyLayout}: out[r * G + t] =
     * zero + scale * code for anomalous rows, +-scale for the components (bit reads written here,
     * not the codec's).
     */
    private static float[] rowsFromLayout(VidkvKeyCodec codec, MetadataCodes fmt, HeadState st, int g, int d) {
        io.vidkv.layout.VidkvKeyLayout lay = codec.layout();
        int a = lay.anomalous();
        float[] rows = new float[g * d];
        for (int t = 0; t < g; t++) {
            for (int r = 0; r < a; r++) {
                float sc = fmt.decodeScale(fmt.readRaw(block, lay.scale(r)), st.keySuper[r]);
                float z = fmt.decodeZero(fmt.readRaw(block, lay.zero(r)), sc);
                int code = bit(lay.row(lay.lowRow(r)), t) + 2 * bit(lay.row(lay.highRow(r)), t);
                rows[r * g + t] = z + sc * code;
            }
            for (int j = 0; j < d - a; j++) {
                float sc = fmt.decodeScale(fmt.readRaw(block, lay.componentScale(j)), st.keySuper[a + j]);
                rows[(a + j) * g + t] = bit(lay.row(lay.signRow(j)), t) == 1 ? sc : -sc;
            }
        }
        return rows;
    }

    private static int bit(long byteOff, int i) {
        return block.get(java.lang.foreign.ValueLayout.JAVA_BYTE, byteOff + i / 8) >> (i % 8) & 1;
    }

    @ParameterizedTest(name = "bits={0} rows={1} cols={2} planeOuter={3}")
    @CsvSource({"1, 64, 32, true", "2, 7, 64, false", "3, 3, 8, true", "4, 32, 16, false", "8, 5, 40, true"})
    void packingRoundTripsBitExact(int bits, int rows, int cols, boolean planeOuter) {
        SplittableRandom rnd = TestSeeds.random(bits, rows, cols);
        int[] codes = new int[rows * cols];
        for (int i = 0; i < codes.length; i++) {
            codes[i] = rnd.nextInt(1 << bits);
        }
        CodePlanes.pack(codes, rows, cols, bits, planeOuter, block, 64);
        float[] out = new float[rows * cols];
        CodePlanes.unpack(block, 64, rows, cols, bits, planeOuter, out, 0);
        for (int i = 0; i < codes.length; i++) {
            assertEquals(codes[i], (int) out[i], "code " + i);
        }
        assertEquals(bits * rows * cols / 8, CodePlanes.bytes(bits, rows, cols));
    }

    @Test
    void halvesDecodeMatchesFloat16ToFloat() {
        SplittableRandom rnd = TestSeeds.random(5);
        int n = 1003;
        for (int i = 0; i < n; i++) {
            float v = (float) Math.max(-6e4, Math.min(6e4, rnd.nextGaussian() * Math.exp(rnd.nextDouble(-20, 10))));
            block.setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, i, Float.floatToFloat16(v));
        }
        block.setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, 0, (short) 0x0001); // smallest subnormal
        block.setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, 1, (short) 0x8000); // -0
        float[] out = new float[n];
        Fp16Codec.halves(block, 0, n, out, 0);
        for (int i = 0; i < n; i++) {
            assertEquals(Float.float16ToFloat(block.getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, i)), out[i], 0f, "half " + i);
        }
    }

    @Test
    void compactScalesRoundTripWithinOneStep() {
        SplittableRandom rnd = TestSeeds.random(6);
        for (int i = 0; i < 1000; i++) {
            float sup = (float) Math.exp(rnd.nextDouble(-5, 5));
            float scale = (float) (sup * Math.exp(rnd.nextDouble(-5, 1.5)));
            int raw = MetadataCodes.COMPACT8.encodeScale(scale, sup);
            float back = MetadataCodes.COMPACT8.decodeScale(raw, sup);
            assertTrue(back >= scale * 0.9999f && back <= scale * 1.03f, scale + " -> " + back);
        }
    }
}
