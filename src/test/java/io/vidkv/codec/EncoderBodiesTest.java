package io.vidkv.codec;

import io.vidkv.QuantAxis;
import io.vidkv.SplitMetric;
import io.vidkv.TernaryPacking;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every encoder gives the same block bytes (codes, scales, zero points, masks) with the plain-Java and
 * the Vector API {@link EncodeMath} body, over random blocks of several layouts, group sizes, head
 * dims and protected masks. Exact equality: the bodies are specified to agree bit for bit (the
 * codecs' own accuracy against float64 references is CodecTest's and the cache tests' job).
 */
class EncoderBodiesTest {

    private static final EncodeMath[] BODIES = {new ScalarEncodeMath(), new PanamaEncodeMath()};

    /** The codec made with each body, in {@link #BODIES} order. */
    private static <C> List<C> each(Function<EncodeMath, C> make) {
        assumeTrue(PanamaEncodeMath.available(), "no 256-bit vectors on this platform");
        return List.of(make.apply(BODIES[0]), make.apply(BODIES[1]));
    }

    @ParameterizedTest(name = "vidkv kb={0} {1} G={2} d={3} perGroup={4} spectral={5}")
    @CsvSource({"1.5, FP16, 32, 128, false, true", "1.25, FP16, 32, 96, false, true", "1.5, COMPACT8, 64, 128, false, true",
            "1.75, FP16, 24, 64, false, true", "1.5, FP16, 32, 64, true, true", "1.5, FP16, 16, 40, false, false",
            "2.0, FP16, 32, 64, false, true", "1.0, COMPACT8, 8, 64, false, true"})
    void vidkvKeys(double keyBits, MetadataCodes fmt, int g, int d, boolean perGroup, boolean spectral) {
        compareKeys(each(b -> new VidkvKeyCodec(keyBits, SplitMetric.RANGE, spectral, perGroup, fmt, g, d, b)), g, d, TestSeeds.random((long) (keyBits * 100), fmt.ordinal(), g, d, perGroup ? 1 : 0));
    }

    @ParameterizedTest(name = "uniform bits={0} {1} key={2} {3} G={4} d={5} ls={6}")
    @CsvSource({"2, PER_CHANNEL, true, FP16, 32, 128, false", "2, PER_TOKEN, false, FP16, 32, 128, false",
            "1, PER_CHANNEL, true, FP16, 32, 64, false", "3, PER_CHANNEL, false, FP16, 16, 64, false",
            "4, PER_TOKEN, false, COMPACT8, 32, 64, false", "8, PER_TOKEN, true, FP16, 32, 64, false",
            "2, PER_CHANNEL, true, COMPACT8, 64, 128, false", "2, PER_TOKEN, false, FP16, 64, 128, false",
            "2, PER_CHANNEL, false, FP16, 8, 24, true", "4, PER_TOKEN, false, FP16, 32, 96, true"})
    void uniform(int bits, QuantAxis axis, boolean key, MetadataCodes fmt, int g, int d, boolean ls) {
        List<UniformCodec> codecs = each(b -> new UniformCodec(bits, axis, key, fmt, g, d, ls, b));
        SplittableRandom rnd = TestSeeds.random(bits, axis.ordinal(), key ? 1 : 0, fmt.ordinal(), g, d, ls ? 1 : 0);
        if (key) {
            compareKeys(codecs, g, d, rnd);
        } else {
            compareValues(codecs, g, d, rnd);
        }
    }

    @ParameterizedTest(name = "ternary {0} protection={1} {2} G={3} d={4} ls={5}")
    @CsvSource({"BASE3, false, FP16, 32, 128, false", "BASE3, true, FP16, 32, 128, false", "BASE3, false, COMPACT8, 64, 128, false",
            "PLANES, true, FP16, 16, 64, false", "BASE3, true, FP16, 24, 96, true", "BASE3, false, FP16, 40, 64, false",
            "PLANES, false, COMPACT8, 32, 64, true", "BASE3, true, COMPACT8, 64, 64, false"})
    void ternary(TernaryPacking packing, boolean protection, MetadataCodes fmt, int g, int d, boolean ls) {
        compareValues(each(b -> new TernaryValueCodec(0.7, ls, packing, protection, fmt, g, d, b)), g, d, TestSeeds.random(packing.ordinal(), protection ? 1 : 0, fmt.ordinal(), g, d, ls ? 1 : 0));
    }

    @ParameterizedTest(name = "ternary per token ls={0} {1} bits={2} G={3} d={4}")
    @CsvSource({"true, FP16, 3, 32, 128", "true, COMPACT8, 0, 64, 64", "false, FP16, 0, 32, 128", "true, FP16, 4, 24, 96",
            "false, COMPACT8, 3, 40, 64", "true, FP16, 0, 17, 40", "true, COMPACT8, 4, 8, 24"})
    void ternaryPerToken(boolean ls, MetadataCodes fmt, int bits, int g, int d) {
        compareValues(each(b -> new TernaryTokenCodec(0.7, ls, true, false, bits, fmt, g, d, b)), g, d, false,
                TestSeeds.random(ls ? 1 : 0, fmt.ordinal(), bits, g, d));
    }

    private static void compareKeys(List<? extends KeyCodec> codecs, int g, int d, SplittableRandom rnd) {
        try (Arena arena = Arena.ofConfined(); CodecScratch s = new CodecScratch(d, g, 4)) {
            long bytes = codecs.get(0).blockBytes();
            MemorySegment[] out = {arena.allocate(bytes), arena.allocate(bytes)};
            float[] calib = CodecTest.data(rnd, 2 * g, d);
            HeadState[] st = {new HeadState(d), new HeadState(d)};
            for (int i = 0; i < 2; i++) {
                codecs.get(i).prepare(s);
                codecs.get(i).calibrate(calib, 2 * g, st[i], s);
            }
            for (int block = 0; block < 12; block++) {
                float[] x = CodecTest.data(rnd, g, d);
                for (int i = 0; i < 2; i++) {
                    out[i].fill((byte) 0x5A); // the encoder must write every byte of its block
                    codecs.get(i).encode(x.clone(), st[i], out[i], 0, s);
                }
                assertSame(out, "block " + block);
            }
        }
    }

    private static void compareValues(List<? extends ValueCodec> codecs, int g, int d, SplittableRandom rnd) {
        compareValues(codecs, g, d, true, rnd);
    }

    private static void compareValues(List<? extends ValueCodec> codecs, int g, int d, boolean masks, SplittableRandom rnd) {
        try (Arena arena = Arena.ofConfined(); CodecScratch s = new CodecScratch(d, g, 4)) {
            MemorySegment[] out = {arena.allocate(codecs.get(0).blockBytes(g)), arena.allocate(codecs.get(0).blockBytes(g))};
            float[] calib = CodecTest.data(rnd, 2 * g, d);
            HeadState[] st = {new HeadState(d), new HeadState(d)};
            for (int i = 0; i < 2; i++) {
                codecs.get(i).calibrate(calib, 2 * g, st[i], s);
            }
            for (int block = 0; block < 12; block++) {
                float[] x = CodecTest.data(rnd, g, d);
                long mask = !masks ? 0L : switch (block % 4) {
                    case 0 -> 0L;
                    case 1 -> -1L;
                    default -> rnd.nextLong() & rnd.nextLong();
                };
                long[] written = new long[2];
                for (int i = 0; i < 2; i++) {
                    out[i].fill((byte) 0x5A);
                    written[i] = codecs.get(i).encode(x.clone(), mask, st[i], out[i], 0, s);
                }
                assertEquals(written[0], written[1]);
                assertSame(new MemorySegment[]{out[0].asSlice(0, written[0]), out[1].asSlice(0, written[1])},
                        "block " + block + " mask " + Long.toHexString(mask));
            }
        }
    }

    private static void assertSame(MemorySegment[] out, String what) {
        long i = out[0].mismatch(out[1]);
        if (i >= 0) {
            throw new AssertionError(what + ": " + BODIES[1].name() + " differs from " + BODIES[0].name() + " at byte " + i
                    + ": " + out[1].get(ValueLayout.JAVA_BYTE, i) + " vs " + out[0].get(ValueLayout.JAVA_BYTE, i)
                    + TestSeeds.replay());
        }
    }
}
