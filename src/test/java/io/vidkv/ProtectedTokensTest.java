package io.vidkv;

import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@link ProtectedTokens#mask}: word-wise, equal to testing every position, also across words and past the limit. */
class ProtectedTokensTest {

    @Test
    void maskEqualsThePositionByPositionAnswer() {
        SplittableRandom rnd = TestSeeds.random(14, 9);
        for (int maxTokens : new int[]{1, 63, 64, 65, 200, 257}) {
            ProtectedTokens p = new ProtectedTokens(maxTokens);
            for (int i = 0; i < maxTokens / 3 + 1; i++) {
                p.add(rnd.nextInt(maxTokens));
            }
            for (int first = 0; first < maxTokens + 130; first++) {
                for (int count = 1; count <= 64; count++) {
                    long want = 0;
                    for (int t = 0; t < count; t++) {
                        if (p.contains(first + t)) {
                            want |= 1L << t;
                        }
                    }
                    assertEquals(want, p.mask(first, count), "maxTokens " + maxTokens + ", first " + first + ", count " + count
                            + TestSeeds.replay());
                    assertEquals(Long.bitCount(want), p.count(first, count));
                }
            }
        }
    }
}
