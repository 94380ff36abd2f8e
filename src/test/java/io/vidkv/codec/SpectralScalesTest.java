package io.vidkv.codec;

import io.vidkv.internal.CacheAccess;
import io.vidkv.CacheConfig;
import io.vidkv.internal.HeadStream;
import io.vidkv.KvCache;
import io.vidkv.LayerConfig;
import io.vidkv.ModelShape;
import io.vidkv.layout.VidkvKeyLayout;
import io.vidkv.testing.CacheFill;
import io.vidkv.testing.ReferenceBlocks;
import io.vidkv.testing.TestConfigs;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * What a VidKV key block stores against float64 computed from the original keys (METHOD.md
 * sections 2 and 7): for each block, the n normal channels of each token (in row order) are
 * transformed with a float64 real DFT; the stored scale of component j must be mean |X_j| over the
 * block's G tokens and each sign bit the sign of X_j.
 *
 * <p>Tolerances. The codec's FFT is float32: its components are off by at most a few u log2(n)
 * sum_m |x_m|, so the mean may move by {@code 1e-5 mean_t sum_m |x_m|} (u = 2^-24; the bound is
 * ~100x that); then FP16 rounds to nearest: |s - mean| <= 2^-11 mean (plus half the subnormal step
 * 2^-25), and COMPACT8 rounds up on a 2^(1/24) grid: mean <= s <= 2^(1/24) mean, unless clipped at
 * its ends (code 1 or 255). A sign bit is checked where |X_j| > 1e-4 sum_m |x_m|, far above the
 * float32 error. With FP16 metadata the anomalous rows are checked the same way: scale (max - min) / 3
 * and zero min over the group, within FP16 rounding.
 */
class SpectralScalesTest {

    @ParameterizedTest(name = "{0} d={1}")
    @CsvSource({
            "vidkv-1.5/1.58, 128",
            "vidkv-1.5/1.58+kb=1.3+C=1, 64",
            "vidkv-1.25/1.58+G=16, 96",
            "vidkv-1.5/1.58+pergroup+G=24, 64",
            "vidkv-1.5/1.58+kb=1.0+G=8+C=2, 64",
            "vidkv-1.5/1.58-compact, 128",
            "vidkv-1.5/1.58-compact+kb=1.3+G=40, 64"})
    void storedScalesAndSignsMatchFloat64Dft(String spec, int d) {
        LayerConfig lc = TestConfigs.layer(spec);
        ModelShape shape = new ModelShape(1, 2, 2, d);
        MetadataCodes f = MetadataCodes.of(lc.metadata());
        VidkvKeyLayout layout = ReferenceBlocks.vidkvLayout(lc, d);
        int g = lc.groupSize(), a = layout.anomalous(), n = layout.normal();
        for (int seed = 0; seed < 2; seed++) {
            SplittableRandom rnd = TestSeeds.random(spec.hashCode(), d, seed);
            int tokens = lc.windowCapacity() + (2 + rnd.nextInt(3)) * g;
            try (Arena arena = Arena.ofConfined();
                 KvCache cache = KvCache.create(shape, CacheConfig.uniform(shape, lc).withCapacity(tokens))) {
                MemorySegment keys = CacheFill.fill(cache, arena, rnd, tokens, CacheFill.Scale.NORMAL)[0];
                for (int h = 0; h < shape.kvHeads(); h++) {
                    HeadStream hs = CacheAccess.stream(cache, 0, h);
                    for (int b = 0; b < hs.blockCount(); b++) {
                        String what = spec + " d=" + d + " seed " + seed + " head " + h + " block " + b;
                        MemorySegment page = hs.page(b);
                        long off = hs.offset(b);
                        int[] order = ReferenceBlocks.keyRowOrder(lc, d, page, off, hs.state());
                        double[][] x = new double[g][d];
                        for (int t = 0; t < g; t++) {
                            for (int c = 0; c < d; c++) {
                                x[t][c] = keys.getAtIndex(ValueLayout.JAVA_FLOAT, ((long) (b * g + t) * shape.kvHeads() + h) * d + c);
                            }
                        }
                        double[][] comp = new double[g][];
                        double[] l1 = new double[g];
                        double meanL1 = 0;
                        for (int t = 0; t < g; t++) {
                            double[] normal = new double[n];
                            for (int m = 0; m < n; m++) {
                                normal[m] = x[t][order[a + m]];
                                l1[t] += Math.abs(normal[m]);
                            }
                            comp[t] = ReferenceBlocks.realDftComponents(normal);
                            meanL1 += l1[t] / g;
                        }
                        for (int j = 0; j < n; j++) {
                            double mean = 0;
                            for (int t = 0; t < g; t++) {
                                mean += Math.abs(comp[t][j]) / g;
                            }
                            double s = ReferenceBlocks.componentScale(lc, d, page, off, hs.state(), j);
                            int raw = f.readRaw(page, off + layout.componentScale(j));
                            checkScale(f, raw, s, mean, 1e-5 * meanL1, what + " component " + j);
                            for (int t = 0; t < g; t++) {
                                if (Math.abs(comp[t][j]) > 1e-4 * l1[t]) {
                                    int want = comp[t][j] > 0 ? 1 : 0;
                                    if (ReferenceBlocks.componentSign(lc, d, page, off, t, j) != want) {
                                        throw new AssertionError(what + " token " + t + " component " + j + ": sign bit should be "
                                                + want + " for X = " + comp[t][j] + TestSeeds.replay());
                                    }
                                }
                            }
                        }
                        if (f == MetadataCodes.FP16) {
                            checkAnomalousRows(layout, page, off, order, x, what);
                        }
                    }
                }
            }
        }
    }

    private static void checkScale(MetadataCodes f, int raw, double s, double mean, double fftError, String what) {
        boolean ok;
        if (f == MetadataCodes.FP16) {
            double want = Math.min(mean, 65504);
            ok = Math.abs(s - want) <= 0x1p-11 * want + 0x1p-25 + fftError;
        } else {
            double lo = raw == 255 ? 0 : mean - fftError;
            double hi = raw == 1 ? Double.MAX_VALUE : (mean + fftError) * Math.pow(2, 1 / 24.0) * (1 + 1e-6);
            ok = s >= lo && s <= hi;
        }
        if (!ok) {
            throw new AssertionError(what + ": stored scale " + s + " (raw " + raw + "), float64 mean |X| " + mean + " (" + f + ")"
                    + TestSeeds.replay());
        }
    }

    private static void checkAnomalousRows(VidkvKeyLayout layout, MemorySegment page, long off, int[] order, double[][] x,
                                           String what) {
        for (int r = 0; r < layout.anomalous(); r++) {
            double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
            for (double[] row : x) {
                min = Math.min(min, row[order[r]]);
                max = Math.max(max, row[order[r]]);
            }
            double scale = Float.float16ToFloat((short) MetadataCodes.FP16.readRaw(page, off + layout.scale(r)));
            double zero = Float.float16ToFloat((short) MetadataCodes.FP16.readRaw(page, off + layout.zero(r)));
            double wantScale = (max - min) / 3;
            if (!(Math.abs(scale - wantScale) <= 0x1p-11 * wantScale + 0x1p-25 + 1e-6 * Math.abs(max))
                    || !(Math.abs(zero - min) <= 0x1p-11 * Math.abs(min) + 0x1p-25)) {
                throw new AssertionError(what + " anomalous row " + r + " (channel " + order[r] + "): scale " + scale + " zero " + zero
                        + ", float64 (max - min) / 3 = " + wantScale + ", min = " + min + TestSeeds.replay());
            }
        }
    }
}
