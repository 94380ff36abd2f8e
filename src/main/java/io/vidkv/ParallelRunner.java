package io.vidkv;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed team of threads that runs "items 0..n-1 of this task" with the calling thread taking
 * part, and allocates nothing per run: the task is an object the caller keeps, items are claimed
 * from an atomic counter, helpers spin briefly and then park between runs. Used for decode
 * attention (items = (KV head, block chunk)) and for quantizing a prefill (items = KV heads).
 *
 * <p>Which thread runs which item varies; callers make results independent of it by writing each
 * item's result to its own slot and reducing in item order.
 *
 * <p>Threading: thread-safe. One run at a time per runner: runs called from several threads (say
 * two sequences, or a cache and its {@code DecodeAttention}, sharing one runner) take turns, the
 * later caller waiting for the earlier run. A task must not call {@link #run} on its own runner.
 * {@link #close} is idempotent and may come from any thread: a run in progress still completes (its
 * caller takes the items the stopping helpers leave), and every later run throws
 * {@link IllegalStateException}. Close the runner after the caches and attention objects that use it.
 */
public final class ParallelRunner implements AutoCloseable {

    /** One unit of work; {@code worker} in [0, threads) identifies per-thread scratch. */
    @FunctionalInterface
    public interface Task {
        /**
         * Runs one item.
         *
         * @param item   the item, in {@code [0, count)} of the {@link ParallelRunner#run} call
         * @param worker the thread running it, in {@code [0, threads())}: 0 is the caller of run
         */
        void run(int item, int worker);
    }

    private static final int SPIN_ROUNDS = 1 << 14;

    private final int threads;
    private final Thread[] helpers;
    /** (generation << 32) | next item: a helper late from an earlier run cannot claim this run's items. */
    private final AtomicLong cursor = new AtomicLong();
    private final AtomicInteger done = new AtomicInteger();
    private volatile Task task;
    private volatile int items;
    private volatile int generation;
    private volatile boolean closed;
    private volatile Throwable failure;

    /**
     * A runner of {@code threads} threads in total, the caller of {@link #run} included: it starts
     * {@code threads - 1} daemon helper threads, which spin briefly and then park between runs.
     *
     * @param threads at least 1 (1: everything runs on the caller)
     * @throws IllegalArgumentException if {@code threads} is below 1
     */
    public ParallelRunner(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.helpers = new Thread[threads - 1];
        for (int i = 0; i < helpers.length; i++) {
            int worker = i + 1;
            helpers[i] = Thread.ofPlatform().daemon().name("vidkv-worker-" + worker).unstarted(() -> helperLoop(worker));
            helpers[i].start();
        }
    }

    /**
     * Threads per run, the caller included.
     *
     * @return the thread count given at construction
     */
    public int threads() {
        return threads;
    }

    /** Whether every thread of this runner may access {@code segment} (false for another thread's confined arena). */
    boolean canAccess(java.lang.foreign.MemorySegment segment) {
        for (Thread h : helpers) {
            if (!segment.isAccessibleBy(h)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Runs task(item, worker) for every item in [0, count); returns when all are done. Items are
     * claimed dynamically, so which worker runs an item varies from run to run: a task that must give
     * the same result for any thread count writes each item's result to its own slot.
     *
     * @param count the number of items (0 or less: nothing runs)
     * @param t     the task; an exception from any item is rethrown here after the run ends
     *
     * @throws IllegalStateException the runner is closed (no item was run)
     */
    public void run(int count, Task t) {
        if (!tryRun(count, t)) {
            throw new IllegalStateException("ParallelRunner is closed: close the runner after the caches and attention "
                    + "objects that use it");
        }
    }

    /** Whether {@link #close} was called. */
    boolean isClosed() {
        return closed;
    }

    /** {@link #run}, or false with no item run if the runner is closed (the cache then runs the items itself). */
    synchronized boolean tryRun(int count, Task t) {
        if (closed) {
            return false;
        }
        if (count <= 0) {
            return true;
        }
        if (helpers.length == 0 || count == 1) {
            for (int i = 0; i < count; i++) {
                t.run(i, 0);
            }
            return true;
        }
        failure = null;
        task = t;
        items = count;
        done.set(0);
        int gen = generation + 1;
        cursor.set((long) gen << 32);
        generation = gen;
        for (Thread h : helpers) {
            LockSupport.unpark(h);
        }
        work(t, count, 0, gen);
        int spins = 0;
        while (done.get() < count) {
            // A helper still on an item may have lost its core (more runnable threads than cores):
            // after a short spin, give the core away instead of burning the helper's time slice.
            if (++spins < SPIN_ROUNDS) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
        task = null;
        Throwable f = failure;
        if (f != null) {
            if (f instanceof RuntimeException re) {
                throw re;
            }
            if (f instanceof Error e) {
                throw e;
            }
            throw new IllegalStateException(f);
        }
        return true;
    }

    private void work(Task t, int count, int worker, int gen) {
        while (true) {
            long c = cursor.get();
            int i = (int) c;
            if ((int) (c >>> 32) != gen || i >= count) {
                return;
            }
            if (!cursor.compareAndSet(c, c + 1)) {
                continue;
            }
            try {
                t.run(i, worker);
            } catch (Throwable e) {
                failure = e;
            } finally {
                done.incrementAndGet();
            }
        }
    }

    private void helperLoop(int worker) {
        int seen = 0;
        while (!closed) {
            int spins = 0;
            while (generation == seen && !closed) {
                if (spins++ < SPIN_ROUNDS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            if (closed) {
                return;
            }
            seen = generation;
            Task t = task;
            if (t != null) {
                work(t, items, worker, seen);
            }
        }
    }

    /** Stops the helper threads (daemons; they end once they see the flag). Idempotent. */
    @Override
    public void close() {
        closed = true;
        for (Thread h : helpers) {
            LockSupport.unpark(h);
        }
    }
}
