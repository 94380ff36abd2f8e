package io.vidkv.codec;

import io.vidkv.CacheConfig;
import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.LayerConfig;
import io.vidkv.ModelShape;
import io.vidkv.testing.KvData;
import io.vidkv.testing.ReferenceBlocks;
import io.vidkv.testing.TestConfigs;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link io.vidkv.ParameterFit#LEAST_SQUARES} for uniform codes: the same tokens stored with min/max
 * and with the fit, both read back by the independent float64 decoder {@link ReferenceBlocks}. Per
 * parameter group (G tokens of one channel, or one token's group of channels), the fit never leaves a
 * larger squared error than min/max (it starts there and keeps only improvements, measured after
 * rounding to the metadata format), and over all groups it lowers the error. Both are properties of
 * the definition, checked in float64 on what the decoder sees.
 */
class UniformFitTest {

    @ParameterizedTest(name = "{0} d={1}")
    @CsvSource({"kivi-2, 64", "vidkv-2, 128", "vidkv-2+k=3:ch+v=4:tok+G=40, 96", "vidkv-2+k=2:tok+v=2:ch+compact, 64",
            "vidkv-2+k=1:ch+v=8:ch, 64"})
    void leastSquaresNeverLosesToMinMax(String spec, int d) {
        LayerConfig minMax = TestConfigs.layer(spec + "+R=0+C=1"), fit = TestConfigs.layer(spec + "+R=0+C=1+fit");
        ModelShape shape = new ModelShape(1, 2, 1, d);
        int g = minMax.groupSize(), tokens = 10 * g;
        for (int seed = 0; seed < 3; seed++) {
            SplittableRandom rnd = TestSeeds.random(spec.hashCode(), d, seed);
            try (Arena arena = Arena.ofConfined();
                 KvCache a = KvCache.create(shape, CacheConfig.uniform(shape, minMax).withCapacity(tokens + 64));
                 KvCache b = KvCache.create(shape, CacheConfig.uniform(shape, fit).withCapacity(tokens + 64))) {
                MemorySegment k = KvData.keys(arena, rnd, tokens, 1, d), v = KvData.values(arena, rnd, tokens, 1, d);
                // heavy tails, so that clipping an extreme can pay
                for (long i = 0; i < (long) tokens * d; i++) {
                    if (rnd.nextInt(40) == 0) {
                        v.setAtIndex(ValueLayout.JAVA_FLOAT, i, v.getAtIndex(ValueLayout.JAVA_FLOAT, i) * 8);
                    }
                }
                a.append(0, k, v, tokens, InputType.F32);
                b.append(0, k, v, tokens, InputType.F32);
                int quantized = a.quantizedTokenCount(0);
                assertTrue(quantized > 0 && quantized == b.quantizedTokenCount(0));
                double[][][] ya = ReferenceBlocks.dequantize(a, 0, 0), yb = ReferenceBlocks.dequantize(b, 0, 0);
                for (int kv = 0; kv < 2; kv++) {
                    MemorySegment x = kv == 0 ? k : v;
                    boolean perChannel = (kv == 0 ? minMax.keys().axis() : minMax.values().axis()) == io.vidkv.QuantAxis.PER_CHANNEL;
                    int cg = perChannel ? 1 : (d % g == 0 ? g : d); // per token: groups of G channels, or all d when G does not divide d
                    double totalA = 0, totalB = 0;
                    for (int t0 = 0; t0 < quantized; t0 += perChannel ? g : 1) {
                        for (int c0 = 0; c0 < d; c0 += cg) {
                            double ea = 0, eb = 0;
                            for (int t = t0; t < t0 + (perChannel ? g : 1); t++) {
                                for (int c = c0; c < c0 + cg; c++) {
                                    double orig = x.getAtIndex(ValueLayout.JAVA_FLOAT, (long) t * d + c);
                                    ea += Math.pow(orig - ya[kv][t][c], 2);
                                    eb += Math.pow(orig - yb[kv][t][c], 2);
                                }
                            }
                            assertTrue(eb <= ea * (1 + 1e-9) + 1e-30, spec + (kv == 0 ? " keys" : " values") + " group at token "
                                    + t0 + " channel " + c0 + ": fit error " + eb + " above min/max " + ea + TestSeeds.replay());
                            totalA += ea;
                            totalB += eb;
                        }
                    }
                    assertTrue(totalB < totalA, spec + (kv == 0 ? " keys" : " values") + ": fit total " + totalB
                            + " not below min/max " + totalA + TestSeeds.replay());
                }
            }
        }
    }
}
