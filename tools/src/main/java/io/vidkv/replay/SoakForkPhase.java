package io.vidkv.replay;

import io.vidkv.CacheConfig;
import io.vidkv.CapacityPolicy;
import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.ModelShape;
import io.vidkv.PagePool;
import io.vidkv.ParallelRunner;
import io.vidkv.PoolReport;
import io.vidkv.kernel.DecodeAttention;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.LongConsumer;

/**
 * The soak's third phase, <b>forks</b>: sequences under {@link CapacityPolicy#evictOldest} fork,
 * append, evict, decode and close in random order on one pool, up to {@code openSequences} open at
 * once (a fork of a fork of a fork is as likely as a fresh prefill). It first fills every slot to
 * capacity (the warm-up: the pool's peak), then runs {@code forkOps} random operations. At every
 * sample the references the pool counts must equal the pages the open sequences report holding (no
 * reference leaked or lost); the pool never allocates more pages than the open sequences can hold
 * (strict flatness after the warm-up does not hold here: a fork seals both sides' partly filled
 * tail pages, so sequences forked often hold more, emptier pages); at the end every page is back, no
 * reference is left, and native memory outside the pool is back where it was before the phase.
 */
final class SoakForkPhase {

    private SoakForkPhase() {
    }

    /** What the phase reads: the soak's token buffer, queries and output. */
    record Data(MemorySegment keys, MemorySegment values, MemorySegment[] kt, MemorySegment[] vt, MemorySegment q,
                MemorySegment out) {
    }

    static void run(SoakDriver.Options o, ParallelRunner runner, Data data, SplittableRandom rnd, long started,
                    List<SoakDriver.Sample> samples, List<SoakDriver.Check> checks, LongConsumer progress, long progressBase) {
        ModelShape shape = o.shape();
        int capacity = o.maxSequenceTokens();
        // small pages, so that eviction (by whole pages) and sealed tail pages are exercised often
        CacheConfig config = CacheConfig.of(shape, o.preset()).withPageBytes(16 * 1024)
                .withCapacity(CapacityPolicy.evictOldest(capacity));
        long perSequence = 0;
        for (int l = 0; l < shape.layers(); l++) {
            perSequence += (long) (capacity / config.layer(l).groupSize() + 4) * shape.kvHeads();
        }
        int buffer = data.kt().length;
        long tokenBytes = (long) shape.tokenElements() * Float.BYTES;
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        int bound = (int) (perSequence * o.openSequences());
        int mismatches = 0;
        String firstMismatch = "";
        int firstWarm = -1;
        long nativeBefore = SoakDriver.nmt()[1]; // NMT "Other" before the phase: no pool, no sequence yet
        try (PagePool pool = new PagePool(config.pageBytes(), bound)) {
            KvCache[] open = new KvCache[o.openSequences()];
            DecodeAttention[] attns = new DecodeAttention[o.openSequences()];
            int[] position = new int[o.openSequences()]; // where in the buffer each sequence reads next
            for (int s = 0; s < open.length; s++) { // warm-up: every slot streamed past capacity
                open[s] = KvCache.create(shape, config, pool, runner);
                attns[s] = new DecodeAttention(open[s], runner);
                position[s] = rnd.nextInt(buffer);
                for (int done = 0; done < capacity + 512; done += 256) {
                    position[s] = append(open[s], data, position[s], 256, buffer, tokenBytes);
                }
            }
            long before = mx.getCurrentThreadAllocatedBytes();
            int every = Math.max(1, o.forkOps() / 50);
            for (int op = 0; op < o.forkOps(); op++) {
                int slot = rnd.nextInt(open.length);
                int kind = rnd.nextInt(10);
                if (open[slot] == null) { // an empty slot: a fork of another open sequence, or a fresh prefill
                    int from = rnd.nextInt(open.length);
                    if (open[from] != null && kind < 7) {
                        open[slot] = open[from].fork();
                        position[slot] = rnd.nextInt(buffer);
                    } else {
                        open[slot] = KvCache.create(shape, config, pool, runner);
                        position[slot] = rnd.nextInt(buffer);
                        position[slot] = append(open[slot], data, position[slot], 64 + rnd.nextInt(capacity - 256), buffer,
                                tokenBytes);
                    }
                    attns[slot] = new DecodeAttention(open[slot], runner);
                } else if (kind < 2) { // fork into another slot, replacing what is there
                    int to = rnd.nextInt(open.length);
                    if (to != slot) {
                        if (open[to] != null) {
                            attns[to].close();
                            open[to].close();
                        }
                        open[to] = open[slot].fork();
                        attns[to] = new DecodeAttention(open[to], runner);
                        position[to] = rnd.nextInt(buffer);
                    }
                } else if (kind < 5) { // a chunk (evicts once full)
                    position[slot] = append(open[slot], data, position[slot], 1 + rnd.nextInt(96), buffer, tokenBytes);
                } else if (kind < 8) { // a decode step
                    position[slot] = append(open[slot], data, position[slot], 1, buffer, tokenBytes);
                    for (int l = 0; l < shape.layers(); l++) {
                        attns[slot].attend(l, data.q(), data.out());
                    }
                } else {
                    attns[slot].close();
                    open[slot].close();
                    open[slot] = null;
                    attns[slot] = null;
                }
                if ((op + 1) % every == 0 || op + 1 == o.forkOps()) {
                    long held = 0;
                    int retained = 0;
                    for (KvCache c : open) {
                        if (c != null) {
                            held += c.memoryReport().pageBytes() / config.pageBytes();
                            retained = Math.max(retained, c.retainedTokenCount(0));
                        }
                    }
                    PoolReport report = pool.report();
                    if (report.references() != held) {
                        if (mismatches++ == 0) {
                            firstMismatch = "; first at op " + (op + 1) + ": pool counts " + report.references()
                                    + " references, the open sequences hold " + held + " pages";
                        }
                    }
                    if (op + 1 > o.forkOps() / 5 && firstWarm < 0) {
                        firstWarm = samples.size();
                    }
                    samples.add(SoakDriver.sample("forks", op + 1, started, retained, pool,
                            mx.getCurrentThreadAllocatedBytes() - before));
                    progress.accept(progressBase + op + 1);
                    before = mx.getCurrentThreadAllocatedBytes();
                }
            }
            for (int s = 0; s < open.length; s++) {
                if (open[s] != null) {
                    attns[s].close();
                    open[s].close();
                }
            }
            PoolReport end = pool.report();
            checks.add(new SoakDriver.Check("forks: every page back and no reference left after the last close",
                    end.pagesInUse() == 0 && end.references() == 0, end.pagesInUse() + " pages in use, " + end.references()
                    + " references"));
            checks.add(new SoakDriver.Check("forks: pool references = pages the open sequences hold, at every sample",
                    mismatches == 0, mismatches + " mismatching samples" + firstMismatch));
            List<SoakDriver.Sample> warm = firstWarm < 0 ? List.of() : samples.subList(firstWarm, samples.size());
            int min = warm.stream().mapToInt(SoakDriver.Sample::poolAllocatedPages).min().orElse(-1);
            int max = warm.stream().mapToInt(SoakDriver.Sample::poolAllocatedPages).max().orElse(-2);
            // Not "no new page after warm-up": a fork seals both sides' partly filled tail pages, so
            // a sequence forked often holds more, emptier pages than the warm-up's; what must hold is
            // that the pool never needs more than the open sequences can reference.
            checks.add(new SoakDriver.Check("forks: pool stays within what " + o.openSequences() + " open sequences can hold",
                    !warm.isEmpty() && max <= bound, "allocated pages " + min + ".." + max + " after warm-up over " + warm.size()
                    + " samples, bound " + bound + " (one page per block)"));
            // Native memory outside the pool moves with how many sequences are open (each has its
            // scratch and directories), so it is not flat from sample to sample here; what must hold
            // is that it comes back once they are all closed. The pool keeps its window chunks, like
            // its pages, until it closes.
            long nativeAfter = SoakDriver.nmt()[1];
            String name = "forks: native memory outside the pool back to its level before the phase after the last close (NMT)";
            if (nativeBefore < 0 || nativeAfter < 0) {
                checks.add(new SoakDriver.Check(name, true, "skipped: NMT is off (run with -XX:NativeMemoryTracking=summary)"));
            } else {
                long moved = nativeAfter - pool.nativeBytes() - pool.windowBytes() - nativeBefore;
                checks.add(new SoakDriver.Check(name, Math.abs(moved) <= SoakDriver.NATIVE_TOLERANCE_BYTES,
                        String.format(java.util.Locale.ROOT, "moved %.2f MiB (tolerance %.1f MiB)", moved / 1048576.0,
                                SoakDriver.NATIVE_TOLERANCE_BYTES / 1048576.0)));
            }
        }
    }

    /** Appends {@code n} tokens from the buffer (wrapping) to every layer; returns the next position. */
    private static int append(KvCache cache, Data data, int from, int n, int buffer, long tokenBytes) {
        ModelShape shape = cache.shape();
        int done = 0;
        while (done < n) {
            int start = (from + done) % buffer;
            int run = Math.min(n - done, buffer - start);
            for (int l = 0; l < shape.layers(); l++) {
                cache.append(l, data.keys().asSlice(start * tokenBytes, run * tokenBytes),
                        data.values().asSlice(start * tokenBytes, run * tokenBytes), run, InputType.F32);
            }
            done += run;
        }
        return (from + n) % buffer;
    }
}
