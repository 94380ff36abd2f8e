package io.vidkv.codec;

import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link MinMaxCodes#fittedChannelParams} (every channel's least-squares fit a round at a time,
 * passes vectorized across channels) against the per-channel fit it replaces
 * ({@link MinMaxCodes#params} with the fit, one channel after the other, strided and scalar): the
 * same stored bytes, decoded zero points and multipliers, bit for bit, with either body, on random
 * blocks with constant, two-valued and heavy-tailed channels, in both metadata formats.
 */
class FittedChannelParamsTest {

    @ParameterizedTest(name = "G={0} d={1} {2} levels={3}")
    @CsvSource({"64, 32, COMPACT8, 4", "32, 128, FP16, 4", "64, 64, FP16, 8", "24, 40, COMPACT8, 2", "40, 13, COMPACT8, 4",
            "2, 16, FP16, 4"})
    void sameParametersAsTheFitPerChannel(int g, int d, MetadataCodes fmt, int levels) {
        EncodeMath[] bodies = PanamaEncodeMath.available() ? new EncodeMath[]{new ScalarEncodeMath(), new PanamaEncodeMath()}
                : new EncodeMath[]{new ScalarEncodeMath()};
        for (int seed = 0; seed < 6; seed++) {
            SplittableRandom rnd = TestSeeds.random(g, d, fmt.ordinal(), levels, seed);
            float[] x = new float[g * d];
            float[] supers = new float[d];
            for (int c = 0; c < d; c++) {
                double scale = Math.exp(rnd.nextDouble(-3, 3)), offset = rnd.nextGaussian() * scale * (rnd.nextInt(4) == 0 ? 20 : 1);
                int kind = rnd.nextInt(6);
                for (int t = 0; t < g; t++) {
                    x[t * d + c] = (float) switch (kind) {
                        case 0 -> offset; // constant: no fit
                        case 1 -> offset + scale * rnd.nextInt(2); // two values
                        case 2 -> offset + scale * rnd.nextGaussian() / Math.max(0.05, rnd.nextDouble()); // heavy tail
                        default -> offset + scale * rnd.nextGaussian();
                    };
                }
                supers[c] = (float) (scale * Math.exp(rnd.nextDouble(-1, 1)));
            }
            String at = "G=" + g + " d=" + d + " " + fmt + " levels " + levels + " seed " + seed + TestSeeds.replay();
            try (Arena arena = Arena.ofConfined(); CodecScratch s = new CodecScratch(d, g, 1)) {
                long step = fmt.bytes(), zeroAt = (long) d * step;
                MemorySegment want = arena.allocate(2L * d * step), got = arena.allocate(2L * d * step);
                float[] wantZero = new float[d], wantInv = new float[d];
                for (EncodeMath body : bodies) {
                    body.channelMinMax(x, d, g, s.channelLow, s.channelHigh);
                    MinMaxCodes.channelParams(x, d, g, null, d, levels, fmt, supers, want, 0, zeroAt, step, s, true);
                    System.arraycopy(s.channelZero, 0, wantZero, 0, d);
                    System.arraycopy(s.channelInv, 0, wantInv, 0, d);
                    java.util.Arrays.fill(s.channelZero, Float.NaN);
                    java.util.Arrays.fill(s.channelInv, Float.NaN);
                    MinMaxCodes.fittedChannelParams(x, d, g, levels, fmt, supers, got, 0, zeroAt, step, s, body);
                    assertArrayEquals(want.toArray(ValueLayout.JAVA_BYTE), got.toArray(ValueLayout.JAVA_BYTE),
                            body.name() + ": stored parameters, " + at);
                    for (int c = 0; c < d; c++) {
                        assertEquals(Float.floatToRawIntBits(wantZero[c]), Float.floatToRawIntBits(s.channelZero[c]),
                                body.name() + ": zero point of channel " + c + ", " + at);
                        assertEquals(Float.floatToRawIntBits(wantInv[c]), Float.floatToRawIntBits(s.channelInv[c]),
                                body.name() + ": multiplier of channel " + c + ", " + at);
                    }
                }
            }
        }
    }
}
