package io.vidkv;

import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenSaliencyTest {

    @Test
    void meanDotMatchesFloat64AndTopFractionPicksTheBest() {
        SplittableRandom rnd = TestSeeds.random(21);
        int nv = 50, nt = 7, dim = 24;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment vis = arena.allocate(4L * nv * dim), txt = arena.allocate(4L * nt * dim);
            double[][] v = new double[nv][dim], t = new double[nt][dim];
            for (int i = 0; i < nv * dim; i++) {
                float x = (float) rnd.nextGaussian();
                vis.setAtIndex(ValueLayout.JAVA_FLOAT, i, x);
                v[i / dim][i % dim] = x;
            }
            for (int i = 0; i < nt * dim; i++) {
                float x = (float) rnd.nextGaussian();
                txt.setAtIndex(ValueLayout.JAVA_FLOAT, i, x);
                t[i / dim][i % dim] = x;
            }
            float[] s = TokenSaliency.meanDotWithText(vis, nv, txt, nt, dim);
            for (int i = 0; i < nv; i++) {
                double ref = 0;
                for (int j = 0; j < nt; j++) {
                    for (int c = 0; c < dim; c++) {
                        ref += v[i][c] * t[j][c];
                    }
                }
                assertEquals(ref / nt, s[i], 1e-4 * (1 + Math.abs(ref / nt)));
            }
            int[] top = TokenSaliency.topFraction(s, 14, 0.2);
            assertEquals(10, top.length);
            float min = Float.POSITIVE_INFINITY;
            for (int p : top) {
                min = Math.min(min, s[p - 14]);
            }
            int above = 0;
            for (float x : s) {
                if (x > min) {
                    above++;
                }
            }
            assertEquals(9, above, "exactly the top 10 (one of them the 10th)");
            float[] att = TokenSaliency.attentionReceived(vis, nv, txt, nt, dim);
            double sum = 0;
            for (float a : att) {
                sum += a;
            }
            assertEquals(1.0, sum, 1e-4, "attention weights of each query sum to 1");
        }
    }

    @Test
    void tiesGoToTheEarlierTokenAndBadInputIsRejected() {
        assertArrayEquals(new int[]{100, 101}, TokenSaliency.topFraction(new float[]{1, 1, 1, 1}, 100, 0.5));
        assertThrows(IllegalArgumentException.class, () -> TokenSaliency.topFraction(new float[]{1, Float.NaN}, 0, 0.5));
        assertThrows(IllegalArgumentException.class, () -> TokenSaliency.topFraction(new float[]{1}, 0, 1.5));
        try (Arena arena = Arena.ofConfined()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> TokenSaliency.meanDotWithText(arena.allocate(40), 3, arena.allocate(40), 1, 4));
            assertTrue(e.getMessage().contains("visual embeddings segment has 40 bytes, expected 48"), e.getMessage());
        }
    }
}
