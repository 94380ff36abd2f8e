package io.vidkv.testing;

import java.util.SplittableRandom;

/**
 * Random inputs for numerical tests: a fresh base seed per run (so many seeds are exercised over
 * time), printed in every failure message, and overridable with {@code -Dvidkv.test.seed=N} to
 * replay a failure.
 */
public final class TestSeeds {

    public static final long BASE = Long.getLong("vidkv.test.seed", System.nanoTime());

    private TestSeeds() {
    }

    /** A generator for one case, mixed from the run's base seed and the case's parameters. */
    public static SplittableRandom random(long... caseKeys) {
        long s = BASE;
        for (long k : caseKeys) {
            s = s * 0x9E3779B97F4A7C15L + k;
        }
        return new SplittableRandom(s);
    }

    /** Appended to assertion messages: how to replay this run. */
    public static String replay() {
        return " (replay with -Dvidkv.test.seed=" + BASE + ")";
    }
}
