package io.vidkv.codec;

import io.vidkv.CacheConfig;
import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.LayerConfig;
import io.vidkv.MetadataFormat;
import io.vidkv.ModelShape;
import io.vidkv.Preset;
import io.vidkv.TernaryPacking;
import io.vidkv.TernaryThreshold;
import io.vidkv.ValueSpec;
import io.vidkv.testing.ReferenceBlocks;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link TernaryThreshold#LEAST_SQUARES} against a float64 brute force written from its definition:
 * for every (channel, group), over all k = 0..G, the codes sign(v) for the k largest |v| with the
 * least-squares scale (their mean |v|); the stored block, read back by the independent decoder
 * {@link ReferenceBlocks}, must be a top-k set and reach the brute-force minimum of the squared error
 * up to what the rounding of its one scale to FP16 (or the 8-bit log format) adds, k (s' - s)^2. It must also never be worse than the
 * paper's gamma rule. Inputs include heavy ties (values from a few levels) and all-equal channels.
 */
class LeastSquaresThresholdTest {

    @ParameterizedTest(name = "G={0} d={1} {2} {3}")
    @CsvSource({"32, 64, BASE3, FP16, GAUSS", "32, 128, PLANES, FP16, TIES", "64, 64, BASE3, COMPACT8, GAUSS",
            "16, 96, BASE3, FP16, HEAVY_TAIL", "40, 64, PLANES, FP16, TIES", "24, 64, BASE3, COMPACT8, HEAVY_TAIL"})
    void storedCodesAreTheLeastSquaresChoice(int g, int d, TernaryPacking packing, MetadataFormat meta, String dist) {
        LayerConfig lc = new LayerConfig(Preset.VIDKV_15_158.layerConfig().keys(),
                ValueSpec.ternary(packing).withThreshold(TernaryThreshold.LEAST_SQUARES), g, 0, 1, meta);
        ModelShape shape = new ModelShape(1, 2, 1, d);
        int groups = 12, tokens = groups * g;
        for (int seed = 0; seed < 3; seed++) {
            SplittableRandom rnd = TestSeeds.random(g, d, packing.ordinal(), meta.ordinal(), dist.hashCode(), seed);
            try (Arena arena = Arena.ofConfined();
                 KvCache cache = KvCache.create(shape, CacheConfig.uniform(shape, lc).withCapacity(tokens + 64))) {
                MemorySegment k = arena.allocate(4L * tokens * d), v = arena.allocate(4L * tokens * d);
                double[][] x = new double[tokens][d];
                for (int t = 0; t < tokens; t++) {
                    for (int c = 0; c < d; c++) {
                        double val = switch (dist) {
                            case "TIES" -> (rnd.nextInt(5) - 2) * 0.5 * (1 + c % 3); // 5 levels: many equal |v|
                            case "HEAVY_TAIL" -> rnd.nextGaussian() / Math.max(0.05, rnd.nextDouble());
                            default -> c % 17 == 0 ? 3.0 : rnd.nextGaussian(); // some all-equal channels
                        };
                        x[t][c] = (float) val;
                        v.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * d + c, (float) val);
                        k.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * d + c, (float) rnd.nextGaussian());
                    }
                }
                cache.append(0, k, v, tokens, InputType.F32);
                int quantized = cache.quantizedTokenCount(0);
                assertTrue(quantized >= g, "nothing quantized");
                double[][] y = ReferenceBlocks.dequantize(cache, 0, 0)[1];
                double totalLs = 0, totalGamma = 0;
                for (int b = 0; b < quantized / g; b++) {
                    for (int c = 0; c < d; c++) {
                        String where = "G=" + g + " d=" + d + " " + dist + " seed " + seed + " block " + b + " channel " + c
                                + TestSeeds.replay();
                        double minAbsNonzero = Double.POSITIVE_INFINITY, maxAbsZero = 0, err = 0, scale = 0;
                        int nonzero = 0;
                        for (int t = b * g; t < (b + 1) * g; t++) {
                            err += (x[t][c] - y[t][c]) * (x[t][c] - y[t][c]);
                            if (y[t][c] != 0) {
                                nonzero++;
                                scale = Math.abs(y[t][c]);
                                minAbsNonzero = Math.min(minAbsNonzero, Math.abs(x[t][c]));
                                assertTrue(Math.signum(y[t][c]) == Math.signum(x[t][c]), "sign: " + where);
                            } else {
                                maxAbsZero = Math.max(maxAbsZero, Math.abs(x[t][c]));
                            }
                        }
                        assertTrue(nonzero == 0 || minAbsNonzero >= maxAbsZero, "not a top-k set: " + where);
                        double[] brute = bruteForce(x, b * g, g, c);
                        // the stored scale is the LS scale (mean |v| over the nonzero codes) rounded to the
                        // metadata format, which adds exactly k (s' - s)^2 to the error
                        double exact = 0;
                        for (int t = b * g; t < (b + 1) * g; t++) {
                            exact += y[t][c] != 0 ? Math.abs(x[t][c]) / nonzero : 0;
                        }
                        if (meta == MetadataFormat.FP16 && nonzero > 0) { // (the 8-bit log format also clips, by design)
                            assertTrue(Math.abs(scale - exact) <= 0x1p-11 * exact, "stored scale " + scale
                                    + " vs least-squares " + exact + ": " + where);
                        }
                        double slack = nonzero * (scale - exact) * (scale - exact) * (1 + 1e-9) + 1e-12 * brute[1];
                        assertTrue(err <= brute[0] + slack, "error " + err + " above the least-squares minimum "
                                + brute[0] + " (slack " + slack + "): " + where);
                        double gamma = gammaRuleError(x, b * g, g, c, ValueSpec.DEFAULT_GAMMA);
                        assertTrue(err <= gamma + slack, "worse than the gamma rule (" + gamma + "): " + where);
                        totalLs += err;
                        totalGamma += gamma;
                    }
                }
                assertTrue(totalLs < totalGamma, "least squares should lower the total error: " + totalLs + " vs " + totalGamma);
            }
        }
    }

    /** {min over k of the squared error with the k largest |v| kept at their mean |v|, sum of squares}. */
    private static double[] bruteForce(double[][] x, int t0, int g, int c) {
        double sumSq = 0;
        for (int t = t0; t < t0 + g; t++) {
            sumSq += x[t][c] * x[t][c];
        }
        double best = sumSq; // k = 0
        for (int k = 1; k <= g; k++) {
            // the k largest |v|: by selection, independent of the codec's sort
            boolean[] kept = new boolean[g];
            for (int i = 0; i < k; i++) {
                int arg = -1;
                for (int t = 0; t < g; t++) {
                    if (!kept[t] && (arg < 0 || Math.abs(x[t0 + t][c]) > Math.abs(x[t0 + arg][c]))) {
                        arg = t;
                    }
                }
                kept[arg] = true;
            }
            best = Math.min(best, errorOf(x, t0, g, c, kept));
        }
        return new double[]{best, sumSq};
    }

    private static double gammaRuleError(double[][] x, int t0, int g, int c, double gamma) {
        double mean = 0;
        for (int t = t0; t < t0 + g; t++) {
            mean += Math.abs(x[t][c]) / g;
        }
        boolean[] kept = new boolean[g];
        for (int t = 0; t < g; t++) {
            kept[t] = Math.abs(x[t0 + t][c]) > gamma * mean;
        }
        return errorOf(x, t0, g, c, kept);
    }

    /** Squared error of sign(v) x s on the kept tokens (0 elsewhere), s = mean |v| over the kept ones. */
    private static double errorOf(double[][] x, int t0, int g, int c, boolean[] kept) {
        double s = 0;
        int n = 0;
        for (int t = 0; t < g; t++) {
            if (kept[t]) {
                s += Math.abs(x[t0 + t][c]);
                n++;
            }
        }
        s = n == 0 ? 0 : s / n;
        double e = 0;
        for (int t = 0; t < g; t++) {
            double v = x[t0 + t][c], r = kept[t] ? Math.signum(v) * s : 0;
            e += (v - r) * (v - r);
        }
        return e;
    }
}
