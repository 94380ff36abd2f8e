package io.vidkv.codec;

import io.vidkv.CacheConfig;
import io.vidkv.KvCache;
import io.vidkv.LayerConfig;
import io.vidkv.ModelShape;
import io.vidkv.testing.CacheFill;
import io.vidkv.testing.ReferenceBlocks;
import io.vidkv.testing.TestConfigs;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;

/**
 * Every codec's own dequantize ({@link io.vidkv.KvCache#dequantize}) against {@link ReferenceBlocks},
 * the float64 decoder written from METHOD.md and the layout files: catches codec decode bugs (bit
 * order, offsets, trit digits, the inverse transform, parameter indexing) that a test comparing the
 * kernels with the codecs' dequantize cannot.
 *
 * <p>Tolerance, per element of token t: |codec - ref| <= 8 u (|ref| + max_c |ref[t][c]|), with
 * u = 2^-24 the float32 unit roundoff. The codecs decode in float32: zero + scale * code is two
 * roundings of at most u |term| each, and the float32 inverse FFT of n components (FFTW) has an
 * error of a few u log2(n) times the magnitude of the token's normal channels; measured at most
 * 2.1 u (|ref| + max|row|) over four seeds (d = 64, 96, 128), so 8 u leaves room without hiding a
 * wrong bit (one wrong sign bit or code moves an element by a whole scale).
 */
class CodecDecodeReferenceTest {

    static final double U = 0x1p-24;

    @ParameterizedTest(name = "{0} d={1}")
    @CsvSource({
            "fp16+G=16+R=8+C=1, 64",
            "kivi-2+R=5, 128",
            "vidkv-2+k=1:ch+v=3:tok+G=24+R=0+C=1, 96",
            "vidkv-2+k=4:tok+v=8:ch+G=40+C=2, 64",
            "vidkv-2+k=8:tok+v=1:tok+G=64+C=1+R=3, 96",
            "vidkv-2+k=3:ch+v=4:ch+compact+G=16, 128",
            "vidkv-2+k=2:tok+v=2:tok+compact+G=8+C=3, 96",
            "vidkv-1.5/2+R=17, 128",
            "vidkv-1.5/1.58+kb=1.3+C=1, 64",
            "vidkv-1.5/1.58+kb=1.3+C=1, 96",
            "vidkv-1.5/1.58+flat+G=8, 128",
            "vidkv-1.5/1.58+pergroup+planes+G=24+C=1, 64",
            "vidkv-1.5/1.58+pergroup+kb=1.0+G=16, 96",
            "vidkv-1.5/1.58+kb=2.0+flat+G=40, 64",
            "vidkv-1.5/1.58+kb=1.0+G=56+C=1, 64",
            "vidkv-1.25/1.58+planes+G=56+C=1, 128",
            "vidkv-1.5/1.66-stp+G=48+C=1, 64",
            "vidkv-1.75/1.66-stp+planes+G=16, 128",
            "vidkv-1.5/1.58-compact+R=0, 128",
            "vidkv-1.5/1.58-compact+planes+kb=1.3+G=40, 64",
            "vidkv-1.5/1.66-stp+compact+kb=2.0+G=8+C=2, 96",
            "vidkv-1.5/1.66-stp+compact+kb=1.7+G=32+C=1+planes, 96",
            "vidkv-1.5/1.58+terntok, 128",
            "vidkv-1.5/1.58+terntok+tok4, 128",
            "vidkv-1.5/1.58+terntok+lsternary+compact+tok4+G=64+C=2, 32",
            "vidkv-1.5/1.58+terntok+tok4+G=24+C=1, 96",
            "vidkv-1.5/1.58+terntok+tok3, 128",
            "vidkv-1.5/1.58+terntok+lsternary+compact+tok3+G=64+C=2, 32",
            "vidkv-1.5/1.58+terntok+tok3+G=24+C=1, 96",
            "vidkv-1.5/1.58+terntok+lsternary+compact+G=64+C=2, 64",
            "vidkv-2+terntok+G=24+C=1, 96",
            "vidkv-1.5/1.58+terntok+lsternary+G=16, 32"})
    void codecDequantizeEqualsReference(String spec, int d) {
        LayerConfig lc = TestConfigs.layer(spec);
        ModelShape shape = new ModelShape(1, 2, 2, d);
        for (int seed = 0; seed < 3; seed++) {
            SplittableRandom rnd = TestSeeds.random(spec.hashCode(), d, seed);
            int tokens = lc.windowCapacity() + (2 + rnd.nextInt(4)) * lc.groupSize() + rnd.nextInt(lc.groupSize());
            CacheFill.Scale scale = seed == 2 ? CacheFill.Scale.NEAR_FP16_MAX : CacheFill.Scale.NORMAL;
            try (Arena arena = Arena.ofConfined();
                 KvCache cache = KvCache.create(shape, CacheConfig.uniform(shape, lc).withCapacity(tokens))) {
                CacheFill.fill(cache, arena, rnd, tokens, scale);
                for (int h = 0; h < shape.kvHeads(); h++) {
                    double[][][] codec = io.vidkv.testing.KvData.dequantize(cache, 0, h);
                    double[][][] ref = ReferenceBlocks.dequantize(cache, 0, h);
                    assertClose(codec[0], ref[0], spec + " d=" + d + " seed " + seed + " head " + h + " keys");
                    assertClose(codec[1], ref[1], spec + " d=" + d + " seed " + seed + " head " + h + " values");
                }
            }
        }
    }

    private static void assertClose(double[][] got, double[][] want, String what) {
        if (got.length != want.length) {
            throw new AssertionError(what + ": " + got.length + " tokens, reference " + want.length);
        }
        for (int t = 0; t < want.length; t++) {
            double rowMax = 0;
            for (double x : want[t]) {
                rowMax = Math.max(rowMax, Math.abs(x));
            }
            for (int c = 0; c < want[t].length; c++) {
                double err = Math.abs(got[t][c] - want[t][c]);
                double unit = U * (Math.abs(want[t][c]) + rowMax);
                if (!(err <= 8 * unit)) {
                    throw new AssertionError(what + ": token " + t + " channel " + c + ": codec " + got[t][c] + ", reference "
                            + want[t][c] + " (tolerance " + 8 * unit + ")" + TestSeeds.replay());
                }
            }
        }
    }
}
