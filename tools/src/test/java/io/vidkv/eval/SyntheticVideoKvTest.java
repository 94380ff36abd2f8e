package io.vidkv.eval;

import io.vidkv.ModelShape;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The generator's documented properties hold on what it generates. */
class SyntheticVideoKvTest {

    @Test
    void propertiesHold() {
        SyntheticVideoKv.Spec spec = SyntheticVideoKv.Spec.defaults().withFrames(4).withQuestionTokens(6);
        ModelShape s = spec.shape();
        SyntheticVideoKv gen = new SyntheticVideoKv(spec);
        try (Arena arena = Arena.ofConfined()) {
            LayerData a = gen.layer(3, arena);
            LayerData b = new SyntheticVideoKv(spec).layer(3, arena);
            assertArrayEquals(a.keys().toArray(ValueLayout.JAVA_FLOAT), b.keys().toArray(ValueLayout.JAVA_FLOAT), "deterministic");
            int d = s.headDim(), n = a.tokens();
            // outlier channels: max channel abs-mean several times the median (head 0)
            double[] chan = new double[d];
            for (int t = 0; t < n; t++) {
                for (int c = 0; c < d; c++) {
                    chan[c] += Math.abs(a.keys().getAtIndex(ValueLayout.JAVA_FLOAT, (long) t * s.kvHeads() * d + c)) / n;
                }
            }
            double[] sorted = chan.clone();
            Arrays.sort(sorted);
            assertTrue(sorted[d - 1] > 3 * sorted[d / 2], "outlier key channels, max/median = " + sorted[d - 1] / sorted[d / 2]);
            // values vary more along tokens than across channels
            double tokenSpread = spread(a, s, true), channelSpread = spread(a, s, false);
            assertTrue(tokenSpread > channelSpread, "token spread " + tokenSpread + " vs channel " + channelSpread);
            // salient tokens receive more attention from the question than the others
            float[] received = Evaluator.attentionReceived(a, s, 0);
            double sal = 0, other = 0;
            int ns = 0, no = 0;
            for (int t = 0; t < n; t++) {
                if (a.salient()[t]) {
                    sal += received[t];
                    ns++;
                } else {
                    other += received[t];
                    no++;
                }
            }
            double share = sal / (sal + other), tokenShare = (double) ns / (ns + no);
            assertTrue(share > 3 * tokenShare, "salient tokens (" + ns + " of " + n + ") must draw a large share of the "
                    + "question's attention: " + share);
        }
    }

    /** Std of log mean |v| across tokens (or across channels), head 0. */
    private static double spread(LayerData a, ModelShape s, boolean alongTokens) {
        int d = s.headDim(), n = a.tokens();
        int m = alongTokens ? n : d;
        double[] mean = new double[m];
        for (int t = 0; t < n; t++) {
            for (int c = 0; c < d; c++) {
                double v = Math.abs(a.values().getAtIndex(ValueLayout.JAVA_FLOAT, (long) t * s.kvHeads() * d + c));
                mean[alongTokens ? t : c] += v / (alongTokens ? d : n);
            }
        }
        double mu = 0, sq = 0;
        for (double x : mean) {
            mu += Math.log(x) / m;
        }
        for (double x : mean) {
            sq += Math.pow(Math.log(x) - mu, 2) / m;
        }
        return Math.sqrt(sq);
    }
}
