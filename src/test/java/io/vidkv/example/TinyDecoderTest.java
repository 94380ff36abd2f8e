package io.vidkv.example;

import io.vidkv.ModelShape;
import io.vidkv.Preset;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The embedding example drives a decoder loop through vidkv as an engine would (prompt through
 * {@code PrefillAttention}, new tokens through {@code DecodeAttention}, the engine's float[] buffers
 * as heap segments), teacher-forced against the engine's own float[] attention. The prompt (500
 * tokens) is longer than the residual window plus calibration (128 + 4 x 32), so most of it is
 * attended from quantized blocks.
 */
class TinyDecoderTest {

    private static final ModelShape SHAPE = new ModelShape(4, 8, 2, 64);
    private static final int PROMPT = 500;
    private static final int STEPS = 8;

    private static double[] compare(Preset preset) {
        TinyDecoder.Weights w = TinyDecoder.Weights.random(SHAPE, 96, 42);
        int[] tokens = new SplittableRandom(7).ints(PROMPT + STEPS, 0, w.vocab()).toArray();
        return TinyDecoder.compareTeacherForced(w, preset, tokens, PROMPT);
    }

    @Test
    void fp16CacheGivesTheEngineArraysLogitsUpToHalfPrecision() {
        double[] r = compare(Preset.FP16);
        // K and V rounded to FP16 (relative 2^-11) through 4 layers: the logits move by far less than 1 %
        assertTrue(r[0] < 1e-2, "fp16 logits differ by " + r[0] + " of the largest logit");
        assertEquals(1.0, r[1], "fp16: every top-1 token agrees");
    }

    @Test
    void vidkvCacheKeepsTheLogitsClose() {
        double[] r = compare(Preset.VIDKV_15_158);
        System.out.printf("vidkv-1.5/1.58 in the tiny decoder: logits within %.3f of the largest, %.0f %% top-1 agreement%n",
                r[0], 100 * r[1]);
        assertTrue(r[0] > 0, "the prompt must reach quantized blocks, or nothing is compared");
        assertTrue(r[0] < 0.5, "vidkv logits differ by " + r[0] + " of the largest logit");
    }

    @Test
    void mainRuns() {
        TinyDecoder.main(new String[]{"vidkv-1.5/1.66-stp"});
    }
}
