package io.vidkv.replay;

import io.vidkv.ModelShape;
import io.vidkv.Preset;
import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A small soak in the test JVM: a sequence streams 5x past its capacity and 60 short sequences go
 * through a shared pool, then 600 random fork/append/evict/close operations on one pool; the pool
 * allocates no page or window chunk after warm-up, decode steps allocate no heap, the short sequences' window
 * chunks stay within their bound, every page and reference comes back. (The NMT half of the check needs -XX:NativeMemoryTracking, so CI also runs
 * {@code scripts/soak.sh --short}.)
 */
class SoakTest {

    @Test
    void memoryStaysFlatWhileStreamingPastCapacityAndCyclingSequences() {
        long seed = TestSeeds.random(81).nextLong();
        // The JIT first: run alone, this test's JVM would still run the Vector API kernels interpreted
        // or C1-compiled (allocating every vector) past the stream's warm-up, which counts steps, not
        // compilations. The same stream once, unchecked, lets C2 compile them; the checked run follows.
        SoakDriver.run(new SoakDriver.Options(Preset.VIDKV_15_158, new ModelShape(2, 4, 2, 64), 1024, 8000, 0, 1024, 6,
                250, 10, 2, seed, 0), done -> { });
        SoakDriver.Options o = new SoakDriver.Options(Preset.VIDKV_15_158, new ModelShape(2, 4, 2, 64), 1024, 6000, 60, 1024, 6,
                250, 10, 2, seed, 600);
        List<Long> progress = new ArrayList<>();
        SoakDriver.Report r = SoakDriver.run(o, progress::add);
        for (SoakDriver.Check c : r.checks()) {
            assertTrue(c.passed(), c.name() + ": " + c.detail() + TestSeeds.replay());
        }
        assertEquals(12, r.checks().size(), "every check ran");
        assertTrue(r.samples().stream().filter(s -> s.phase().equals("forks")).count() >= 40);
        assertTrue(r.samples().stream().filter(s -> s.phase().equals("stream")).count() >= 20);
        assertTrue(r.samples().stream().anyMatch(s -> s.phase().equals("stream") && s.retainedTokens() < 1024
                && s.step() > 2048), "the stream kept evicting");
        assertEquals(6000 + 60 + 600, progress.getLast());
    }
}
