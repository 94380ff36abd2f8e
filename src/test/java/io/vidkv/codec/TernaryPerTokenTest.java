package io.vidkv.codec;

import io.vidkv.CacheConfig;
import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.LayerConfig;
import io.vidkv.MetadataFormat;
import io.vidkv.ModelShape;
import io.vidkv.Preset;
import io.vidkv.QuantAxis;
import io.vidkv.TernaryPacking;
import io.vidkv.TernaryThreshold;
import io.vidkv.ValueSpec;
import io.vidkv.internal.CacheAccess;
import io.vidkv.layout.TernaryLayout;
import io.vidkv.testing.ReferenceBlocks;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Ternary values per token ({@link TernaryTokenCodec}) against a float64 transcription of their
 * definition, read back through the independent decoder {@link ReferenceBlocks}:
 * <ul>
 *   <li>the channel normalizers are the FP16-rounded mean |v| of each channel over the calibration
 *       tokens (the first C groups), with COMPACT8 then rounded to the nearest 2^(k / 24) times the
 *       largest of them in FP16, k = -255 .. 0;
 *   <li>per token, with x_c = v_c / n_c: the gamma rule keeps exactly the channels with |x| above
 *       gamma x mean |x| (a value within 1e-6 of the threshold may go either way: the codec divides in
 *       float32), the least-squares rule reaches the brute-force minimum of the squared error over all
 *       top-k sets, and the stored scale is mean |x| over the kept channels (to FP16 rounding; the
 *       8-bit log format rounds up by at most one 2.9 % step).
 * </ul>
 * Values vary along tokens (a magnitude per token) and across channels, with ties in one case.
 */
class TernaryPerTokenTest {

    @ParameterizedTest(name = "G={0} d={1} {2} {3} {4}")
    @CsvSource({"32, 64, MEAN_ABS, FP16, GAUSS", "32, 128, LEAST_SQUARES, FP16, GAUSS", "64, 64, LEAST_SQUARES, COMPACT8, GAUSS",
            "24, 96, MEAN_ABS, COMPACT8, TIES", "16, 32, LEAST_SQUARES, FP16, TIES", "40, 64, MEAN_ABS, FP16, HEAVY_TAIL"})
    void codesScalesAndNormalizersFollowTheDefinition(int g, int d, TernaryThreshold rule, MetadataFormat meta, String dist) {
        int calibration = 2;
        LayerConfig lc = new LayerConfig(Preset.VIDKV_15_158.layerConfig().keys(),
                ValueSpec.ternary(TernaryPacking.BASE3).withThreshold(rule).withAxis(QuantAxis.PER_TOKEN), g, 0, calibration, meta);
        ModelShape shape = new ModelShape(1, 2, 2, d);
        int groups = 10, tokens = groups * g;
        for (int seed = 0; seed < 3; seed++) {
            SplittableRandom rnd = TestSeeds.random(g, d, rule.ordinal(), meta.ordinal(), dist.hashCode(), seed);
            try (Arena arena = Arena.ofConfined();
                 KvCache cache = KvCache.create(shape, CacheConfig.uniform(shape, lc).withCapacity(tokens + 64))) {
                MemorySegment k = arena.allocate(4L * tokens * 2 * d), v = arena.allocate(4L * tokens * 2 * d);
                double[][][] x = new double[2][tokens][d];
                double[] channel = new double[d];
                for (int c = 0; c < d; c++) {
                    channel[c] = 0.2 + 3 * rnd.nextDouble();
                }
                for (int t = 0; t < tokens; t++) {
                    double token = Math.exp(1.5 * rnd.nextGaussian());
                    for (int h = 0; h < 2; h++) {
                        for (int c = 0; c < d; c++) {
                            double val = switch (dist) {
                                case "TIES" -> (rnd.nextInt(5) - 2) * 0.5 * (1 + c % 3);
                                case "HEAVY_TAIL" -> rnd.nextGaussian() / Math.max(0.05, rnd.nextDouble());
                                default -> token * channel[c] * rnd.nextGaussian();
                            };
                            float f = (float) val;
                            x[h][t][c] = f;
                            v.setAtIndex(ValueLayout.JAVA_FLOAT, ((long) t * 2 + h) * d + c, f);
                            k.setAtIndex(ValueLayout.JAVA_FLOAT, ((long) t * 2 + h) * d + c, (float) rnd.nextGaussian());
                        }
                    }
                }
                cache.append(0, k, v, tokens, InputType.F32);
                int quantized = cache.quantizedTokenCount(0);
                assertTrue(quantized >= calibration * g, "nothing quantized");
                for (int h = 0; h < 2; h++) {
                    String at = "G=" + g + " d=" + d + " " + rule + " " + meta + " " + dist + " seed " + seed + " head " + h
                            + TestSeeds.replay();
                    float[] normalizers = CacheAccess.stream(cache, 0, h).state().valueSuper;
                    double[] halves = new double[d];
                    for (int c = 0; c < d; c++) {
                        double mean = 0;
                        for (int t = 0; t < calibration * g; t++) {
                            mean += Math.abs(x[h][t][c]) / (calibration * g);
                        }
                        halves[c] = Float.float16ToFloat(Float.floatToFloat16((float) mean));
                    }
                    double reference = 0; // COMPACT8: 8-bit log codes under the largest, in FP16
                    for (double m : halves) {
                        reference = Math.max(reference, m);
                    }
                    reference = Float.float16ToFloat(Float.floatToFloat16((float) reference));
                    for (int c = 0; c < d; c++) {
                        double want = halves[c];
                        if (meta == MetadataFormat.COMPACT8) {
                            double code = Math.max(0, Math.min(255, Math.rint(255 + 24 * Math.log(halves[c] / reference) / Math.log(2))));
                            want = reference * Math.pow(2, (code - 255) / 24);
                        }
                        assertEquals(want, normalizers[c], 1e-6 * want, "normalizer of channel " + c + ": " + at);
                    }
                    double[][] y = ReferenceBlocks.dequantize(cache, 0, h)[1];
                    for (int t = 0; t < quantized; t++) {
                        checkToken(x[h][t], y[t], normalizers, rule, meta, at + " token " + t);
                    }
                }
            }
        }
    }

    private static void checkToken(double[] v, double[] y, float[] n, TernaryThreshold rule, MetadataFormat meta, String at) {
        checkToken(v, y, n, rule, meta, true, at);
    }

    /**
     * One token's codes against its rule; with {@code checkScale} also its stored scale and the
     * clipping at the 8-bit log format's smallest scale (4-bit token scales check those by block).
     */
    private static void checkToken(double[] v, double[] y, float[] n, TernaryThreshold rule, MetadataFormat meta,
                                   boolean checkScale, String at) {
        int d = v.length;
        double[] x = new double[d];
        double meanAbs = 0;
        for (int c = 0; c < d; c++) {
            x[c] = v[c] / n[c];
            meanAbs += Math.abs(x[c]) / d;
        }
        boolean[] kept = new boolean[d];
        double scale = 0, keptSum = 0;
        int nonzero = 0;
        for (int c = 0; c < d; c++) {
            if (y[c] != 0) {
                kept[c] = true;
                nonzero++;
                keptSum += Math.abs(x[c]);
                scale = Math.abs(y[c]) / n[c];
                assertTrue(Math.signum(y[c]) == Math.signum(x[c]), "sign of channel " + c + ": " + at);
            }
        }
        // the rule's own set, then whether its scale lies below the 8-bit log format's range
        double[] sorted = new double[d];
        for (int c = 0; c < d; c++) {
            sorted[c] = Math.abs(x[c]);
        }
        java.util.Arrays.sort(sorted);
        double sumSq = 0;
        for (double s : sorted) {
            sumSq += s * s;
        }
        double best = sumSq, sum = 0, ruleScale = 0;
        int bestK = 0;
        for (int kk = 1; kk <= d; kk++) {
            sum += sorted[d - kk];
            if (sumSq - sum * sum / kk < best) {
                best = sumSq - sum * sum / kk;
                bestK = kk;
                ruleScale = sum / kk;
            }
        }
        double threshold = ValueSpec.DEFAULT_GAMMA * meanAbs;
        if (rule == TernaryThreshold.MEAN_ABS) {
            double s = 0;
            int k = 0;
            for (int c = 0; c < d; c++) {
                if (Math.abs(x[c]) > threshold) {
                    s += Math.abs(x[c]);
                    k++;
                }
            }
            ruleScale = k == 0 ? 0 : s / k;
        }
        double smallest = TernaryLayout.TOKEN_SUPER * Math.pow(2, (1 - 200) / 24.0); // COMPACT8 code 1
        if (checkScale && meta == MetadataFormat.COMPACT8 && ruleScale > 0 && smallest > 1.05 * ruleScale) {
            // clipped up to the format's smallest scale: of the rule's set, the values above half of it keep a code
            double lsFloor = bestK == 0 ? Double.POSITIVE_INFINITY : sorted[d - bestK];
            for (int c = 0; c < d; c++) {
                double ax = Math.abs(x[c]);
                boolean inRule = rule == TernaryThreshold.MEAN_ABS ? ax > threshold : ax >= lsFloor;
                assertEquals(inRule && ax > smallest / 2, kept[c], "clipped token, channel " + c + " |x| " + ax + ": " + at);
            }
            if (nonzero > 0) {
                assertEquals(smallest, scale, 1e-6 * smallest, "clipped token's scale: " + at);
            }
            return;
        }
        if (nonzero > 0 && checkScale) {
            double exact = keptSum / nonzero;
            double step = meta == MetadataFormat.FP16 ? 0x1p-10 : Math.pow(2, 1 / 24.0) - 1 + 1e-6;
            double largest = TernaryLayout.TOKEN_SUPER * Math.pow(2, (255 - 200) / 24.0); // COMPACT8 code 255
            boolean formatEnd = meta == MetadataFormat.COMPACT8
                    && (Math.abs(scale - smallest) <= 1e-6 * smallest || Math.abs(scale - largest) <= 1e-6 * largest);
            assertTrue(scale >= exact * (1 - 0x1p-10) && scale <= exact * (1 + step) || formatEnd, "stored scale " + scale
                    + " vs mean |x| over the kept channels " + exact + ": " + at);
        }
        if (rule == TernaryThreshold.MEAN_ABS) {
            for (int c = 0; c < d; c++) {
                double ax = Math.abs(x[c]);
                if (Math.abs(ax - threshold) > 1e-6 * threshold) {
                    assertEquals(ax > threshold, kept[c], "channel " + c + " |x| " + ax + " threshold " + threshold + ": " + at);
                }
            }
            return;
        }
        // least squares: a top-k set whose error (at the exact LS scale) is the brute-force minimum
        double minKept = Double.POSITIVE_INFINITY, maxZero = 0;
        for (int c = 0; c < d; c++) {
            if (kept[c]) {
                minKept = Math.min(minKept, Math.abs(x[c]));
            } else {
                maxZero = Math.max(maxZero, Math.abs(x[c]));
            }
        }
        assertTrue(nonzero == 0 || minKept >= maxZero, "not a top-k set: " + at);
        double err = sumSq - (nonzero == 0 ? 0 : keptSum * keptSum / nonzero);
        assertTrue(err <= best + 1e-9 * sumSq, "error " + err + " above the least-squares minimum " + best + ": " + at);
    }

    /**
     * b-bit token scales (b = 3, 4; top = 2^b - 1): per block, the block scale S is the largest token
     * scale of the rule (FP16 rounding, or one 8-bit log step up); the block's spacing is the one of
     * the eight (1/4 .. 3 octaves a level) with the least sum over tokens of k (level - r)^2 (k the
     * token's nonzero codes, r its rule scale, each at its nearest level); each token stores the level
     * S x 2^(-(top - q) x spacing) nearest to r in value (either level within 1e-6 of the midpoint),
     * with the rule's own codes; a token below the smallest level (by more than 5 %) stores it and
     * keeps only the values above half of it.
     */
    @ParameterizedTest(name = "{0}-bit G={1} d={2} {3} {4} {5}")
    @CsvSource({"4, 64, 32, LEAST_SQUARES, COMPACT8, GAUSS", "4, 32, 128, MEAN_ABS, FP16, GAUSS", "4, 24, 64, LEAST_SQUARES, FP16, TIES",
            "4, 64, 64, MEAN_ABS, COMPACT8, HEAVY_TAIL", "3, 64, 32, LEAST_SQUARES, COMPACT8, GAUSS", "3, 40, 128, MEAN_ABS, FP16, GAUSS",
            "3, 24, 64, LEAST_SQUARES, COMPACT8, TIES", "3, 56, 48, LEAST_SQUARES, FP16, HEAVY_TAIL"})
    void tokenScaleCodesAreTheNearestLevelOfTheBlockScale(int bits, int g, int d, TernaryThreshold rule, MetadataFormat meta,
                                                          String dist) {
        int top = (1 << bits) - 1;
        LayerConfig lc = new LayerConfig(Preset.VIDKV_15_158.layerConfig().keys(), ValueSpec.ternary(TernaryPacking.BASE3)
                .withThreshold(rule).withAxis(QuantAxis.PER_TOKEN).withTokenScaleBits(bits), g, 0, 2, meta);
        ModelShape shape = new ModelShape(1, 1, 1, d);
        int tokens = 10 * g;
        for (int seed = 0; seed < 3; seed++) {
            SplittableRandom rnd = TestSeeds.random(bits, g, d, rule.ordinal(), meta.ordinal(), dist.hashCode(), seed);
            try (Arena arena = Arena.ofConfined();
                 KvCache cache = KvCache.create(shape, CacheConfig.uniform(shape, lc).withCapacity(tokens + 64))) {
                MemorySegment k = arena.allocate(4L * tokens * d), v = arena.allocate(4L * tokens * d);
                double[][] x = new double[tokens][d];
                for (int t = 0; t < tokens; t++) {
                    double token = Math.exp(1.5 * rnd.nextGaussian()); // some tokens 30x quieter than their block's loudest
                    for (int c = 0; c < d; c++) {
                        double val = switch (dist) {
                            case "TIES" -> (rnd.nextInt(5) - 2) * 0.5 * (1 + c % 3) * (t % 7 == 0 ? 0.01 : 1);
                            case "HEAVY_TAIL" -> rnd.nextGaussian() / Math.max(0.05, rnd.nextDouble());
                            default -> token * (0.2 + c % 5) * rnd.nextGaussian();
                        };
                        x[t][c] = (float) val;
                        v.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * d + c, (float) val);
                        k.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * d + c, (float) rnd.nextGaussian());
                    }
                }
                cache.append(0, k, v, tokens, InputType.F32);
                int quantized = cache.quantizedTokenCount(0);
                float[] n = CacheAccess.stream(cache, 0, 0).state().valueSuper;
                double[][] y = ReferenceBlocks.dequantize(cache, 0, 0)[1];
                int clippedSeen = 0;
                for (int b = 0; b < quantized / g; b++) {
                    String at = bits + "-bit G=" + g + " d=" + d + " " + rule + " " + meta + " " + dist + " seed " + seed
                            + " block " + b + TestSeeds.replay();
                    double[] ruleScale = new double[g];
                    double largest = 0;
                    for (int i = 0; i < g; i++) {
                        ruleScale[i] = ruleScale(x[b * g + i], n, rule);
                        largest = Math.max(largest, ruleScale[i]);
                    }
                    if (largest == 0) {
                        continue;
                    }
                    double block = Double.NaN; // the stored scale of the block's loudest token is the block scale
                    for (int i = 0; i < g && Double.isNaN(block); i++) {
                        if (ruleScale[i] == largest) {
                            block = storedScale(y[b * g + i], n);
                        }
                    }
                    // (its level is the top one: the block scale is at or above its scale, or the format's top below it)
                    double up = meta == MetadataFormat.FP16 ? 0x1p-11 : Math.pow(2, 1 / 24.0) - 1 + 1e-6;
                    double formatMax = TernaryLayout.TOKEN_SUPER * Math.pow(2, (255 - 200) / 24.0); // COMPACT8 code 255
                    boolean formatTop = meta == MetadataFormat.COMPACT8 && largest > formatMax && Math.abs(block - formatMax) <= 1e-6 * formatMax;
                    assertTrue(block >= largest * (1 - 0x1p-11) && block <= largest * (1 + up) || formatTop, "block scale "
                            + block + " vs the largest token scale " + largest + ": " + at);
                    // the step: the one of the eight spacings with the least sum of k (level - r)^2 over
                    // the tokens, each at its nearest level (near-ties, within 1e-4, may go either way)
                    double[] error = new double[OCTAVES.length];
                    double least = Double.POSITIVE_INFINITY;
                    for (int j = 0; j < OCTAVES.length; j++) {
                        for (int i = 0; i < g; i++) {
                            double e = nearestLevel(block, ruleScale[i], top, OCTAVES[j]) - ruleScale[i];
                            error[j] += ruleCount(x[b * g + i], n, rule) * e * e;
                        }
                        least = Math.min(least, error[j]);
                    }
                    int step = -1;
                    for (int j = 0; j < OCTAVES.length && step < 0; j++) {
                        if (error[j] <= least * (1 + 1e-4) + 1e-12 && storesLevelsOf(block, ruleScale, y, b * g, n, top, OCTAVES[j])) {
                            step = j;
                        }
                    }
                    assertTrue(step >= 0, "no step of least error " + least + " (errors " + java.util.Arrays.toString(error)
                            + ") gives the stored scales: " + at);
                    double octaves = OCTAVES[step];
                    for (int i = 0; i < g; i++) {
                        int t = b * g + i;
                        double r = ruleScale[i], stored = storedScale(y[t], n);
                        if (r == 0) {
                            assertEquals(0, stored, "a token without codes: " + at + " token " + t);
                            continue;
                        }
                        double lowest = block * Math.pow(2, -top * octaves);
                        if (lowest > 1.05 * r) {
                            clippedSeen++;
                            double[] xs = new double[d];
                            for (int c = 0; c < d; c++) {
                                xs[c] = x[t][c] / n[c];
                            }
                            for (int c = 0; c < d; c++) {
                                boolean inRule = inRuleSet(xs, c, rule);
                                assertEquals(inRule && Math.abs(xs[c]) > lowest / 2, y[t][c] != 0, "clipped token " + t
                                        + " channel " + c + ": " + at);
                            }
                            if (stored > 0) {
                                assertEquals(lowest, stored, 1e-6 * lowest, "clipped token " + t + ": " + at);
                            }
                            continue;
                        }
                        checkToken(x[t], y[t], n, rule, meta, false, at + " token " + t);
                    }
                }
                assertTrue(quantized >= 4 * g, "too little quantized");
                if (dist.equals("TIES")) {
                    assertTrue(clippedSeen > 0, "the quiet tokens (1 % of their block) were clipped");
                }
            }
        }
    }

    /** The spacings of token scale levels, octaves per level, by step index (the layout's, restated). */
    private static final double[] OCTAVES = {0.25, 1 / 3.0, 0.5, 2 / 3.0, 1, 4 / 3.0, 2, 3};

    /**
     * The level S x 2^(-i x octaves), i = 0 .. top, nearest to r in value: S at or above it, the
     * lowest below the lowest.
     */
    private static double nearestLevel(double block, double r, int top, double octaves) {
        double best = block;
        for (int i = 0; i <= top; i++) {
            double level = block * Math.pow(2, -i * octaves);
            if (Math.abs(level - r) < Math.abs(best - r)) {
                best = level;
            }
        }
        return best;
    }

    /**
     * Whether every token of the block stores the level nearest to its rule scale at this spacing
     * (either level when r is within 1e-6 of their midpoint), or the lowest level if it is clipped.
     */
    private static boolean storesLevelsOf(double block, double[] ruleScale, double[][] y, int first, float[] n, int top,
                                          double octaves) {
        for (int i = 0; i < ruleScale.length; i++) {
            double r = ruleScale[i], stored = storedScale(y[first + i], n);
            if (r == 0) {
                continue;
            }
            double lowest = block * Math.pow(2, -top * octaves);
            if (lowest > 1.05 * r) {
                if (stored > 0 && Math.abs(stored - lowest) > 1e-6 * lowest) {
                    return false;
                }
                continue;
            }
            double want = nearestLevel(block, r, top, octaves);
            if (Math.abs(stored - want) <= 1e-6 * want) {
                continue;
            }
            // a tie: the stored level is as near to r as the nearest one
            boolean isLevel = false;
            for (int q = 0; q <= top; q++) {
                isLevel |= Math.abs(stored - block * Math.pow(2, -q * octaves)) <= 1e-6 * stored;
            }
            if (!isLevel || Math.abs(Math.abs(stored - r) - Math.abs(want - r)) > 1e-6 * r) {
                return false;
            }
        }
        return true;
    }

    /** How many channels are in the token's rule set (its nonzero codes), from the definition. */
    private static int ruleCount(double[] v, float[] n, TernaryThreshold rule) {
        double[] x = new double[v.length];
        for (int c = 0; c < v.length; c++) {
            x[c] = v[c] / n[c];
        }
        int k = 0;
        for (int c = 0; c < v.length; c++) {
            k += inRuleSet(x, c, rule) ? 1 : 0;
        }
        return k;
    }

    /** The rule's scale of one token (mean |x| over its kept set), from the definition, float64. */
    private static double ruleScale(double[] v, float[] n, TernaryThreshold rule) {
        int d = v.length;
        double[] x = new double[d];
        for (int c = 0; c < d; c++) {
            x[c] = v[c] / n[c];
        }
        double sum = 0;
        int k = 0;
        for (int c = 0; c < d; c++) {
            if (inRuleSet(x, c, rule)) {
                sum += Math.abs(x[c]);
                k++;
            }
        }
        return k == 0 ? 0 : sum / k;
    }

    /**
     * Whether channel c is in the token's rule set: |x| above gamma x mean |x|, or among the top k of
     * the least-squares choice (the k maximizing (S_k)^2 / k, the smaller k on ties).
     */
    private static boolean inRuleSet(double[] x, int c, TernaryThreshold rule) {
        int d = x.length;
        double meanAbs = 0;
        for (double xc : x) {
            meanAbs += Math.abs(xc) / d;
        }
        if (rule == TernaryThreshold.MEAN_ABS) {
            return Math.abs(x[c]) > ValueSpec.DEFAULT_GAMMA * meanAbs;
        }
        double[] sorted = new double[d];
        for (int i = 0; i < d; i++) {
            sorted[i] = Math.abs(x[i]);
        }
        java.util.Arrays.sort(sorted);
        double best = 0, sum = 0;
        int bestK = 0;
        for (int kk = 1; kk <= d; kk++) {
            sum += sorted[d - kk];
            if (sum * sum / kk > best * (1 + 1e-12)) {
                best = sum * sum / kk;
                bestK = kk;
            }
        }
        return bestK > 0 && Math.abs(x[c]) >= sorted[d - bestK];
    }

    /** A token's stored scale, read back: |y_c| / n_c of a kept channel (0 without one). */
    private static double storedScale(double[] y, float[] n) {
        for (int c = 0; c < y.length; c++) {
            if (y[c] != 0) {
                return Math.abs(y[c]) / n[c];
            }
        }
        return 0;
    }

    @Test
    void planesAndProtectionAreRejected() {
        ModelShape shape = new ModelShape(1, 1, 1, 64);
        LayerConfig base = Preset.VIDKV_15_158.layerConfig();
        LayerConfig planes = base.withValues(ValueSpec.ternary(TernaryPacking.PLANES).withAxis(QuantAxis.PER_TOKEN));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KvCache.create(shape, CacheConfig.uniform(shape, planes)).close());
        assertTrue(e.getMessage().contains("BASE3"), e.getMessage());
        LayerConfig protectedTokens = base.withValues(ValueSpec.ternaryProtected(TernaryPacking.BASE3, 0.2).withAxis(QuantAxis.PER_TOKEN));
        e = assertThrows(IllegalArgumentException.class, () -> KvCache.create(shape, CacheConfig.uniform(shape, protectedTokens)).close());
        assertTrue(e.getMessage().contains("protected"), e.getMessage());
    }
}
