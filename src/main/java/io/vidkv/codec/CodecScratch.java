package io.vidkv.codec;

import io.vidkv.nativelib.Fftw;
import io.vidkv.nativelib.RealFftPlan;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Working memory for one thread that quantizes or decodes blocks: Java arrays for codes and
 * parameters, aligned off-heap buffers for FFTW, and the FFTW plans by transform length. Made once
 * per worker and reused, so steady-state appends and decode steps allocate nothing. Not thread-safe.
 */
public final class CodecScratch implements AutoCloseable {

    private static volatile Fftw sharedFftw;

    public final int headDim;
    public final int groupSize;
    public final int maxQueries;
    /**
     * max(2 x G, maxQueries) x d floats each, free for any codec step (DecodeAttention passes the
     * queries of all maxQueries query heads of a KV head through them).
     */
    public final float[] f1;
    public final float[] f2;
    public final int[] codes;
    /** A block's code bytes staged on the heap, then copied into the page at once (2 G d bytes). */
    public final byte[] bytes;
    /** G x d floats of working space for a dequantizer (a block's decoded parameters). */
    public final float[] work;
    public final float[] params = new float[2];
    /** A channel order (per-group split). */
    public final int[] order;
    public final int[] raw = new int[2];
    /** A candidate's decoded and raw parameters while fitting (MinMaxCodes). */
    public final float[] fitParams = new float[2];
    public final int[] fitRaw = new int[2];
    /** G floats: the magnitudes of one channel of a group (the least-squares ternary threshold sorts them). */
    public final float[] magnitudes;
    /** Per token of a group: the ternary threshold of values per token. */
    public final double[] tokenThresholds;
    /** Per token of a group: its nonzero ternary codes (values per token with b-bit token scales). */
    public final int[] tokenCounts;
    /** Per token of a group (values per token): a sum over its channels, and a float bound on |v|. */
    final double[] tokenSums;
    final float[] tokenBounds;
    /** Per token of a group: the lower bound of the least-squares ternary threshold (values per token). */
    final double[] tokenFloors;
    /** One token's candidate magnitudes as float bits, their ranks and their sorted order, d + 8 each. */
    final int[] sortKeys, sortRanks, sortedKeys;

    /** Per-channel working arrays of the encoders' vector loops ({@link EncodeMath}), d each. */
    public final float[] channelLow;
    public final float[] channelHigh;
    public final float[] channelZero;
    public final float[] channelInv;
    public final float[] thresholds;
    public final double[] channelSums;
    public final int[] channelCounts;
    /** The least-squares fit of every channel at once ({@code MinMaxCodes.fittedChannelParams}), d each (sums 4 d). */
    final float[] fitScale, fitZero, fitInv, keptScale, keptZero;
    final int[] fitRawScale, fitRawZero, keptRawScale, keptRawZero;
    final boolean[] fitActive;
    final double[] fitBest, fitErrors, fitSums;
    /** A block's bit rows as words: 8 d (up to 8 code bits per channel), and d more. */
    public final long[] words;
    public final long[] words2;
    /** The base-3 digits of five tokens per channel, trits[i * d + c], i &lt;= 64 / 5. */
    public final int[] trits;

    /** Off-heap, 32-byte aligned: max(G, maxQueries) rows of d floats (real side). */
    public final MemorySegment fftReal;
    /** Off-heap, 32-byte aligned: max(G, maxQueries) rows of d/2+1 complex values. */
    public final MemorySegment fftComplex;
    private final Arena arena = Arena.ofShared();
    private final RealFftPlan[] forwardGroup;
    private final RealFftPlan[] inverseGroup;
    private final RealFftPlan[] forwardQuery;

    public CodecScratch(int headDim, int groupSize, int maxQueries) {
        this.headDim = headDim;
        this.groupSize = groupSize;
        this.maxQueries = maxQueries;
        f1 = new float[Math.max(2 * groupSize, maxQueries) * headDim];
        f2 = new float[Math.max(2 * groupSize, maxQueries) * headDim];
        codes = new int[2 * groupSize * headDim];
        bytes = new byte[2 * groupSize * headDim];
        work = new float[groupSize * headDim];
        order = new int[headDim];
        magnitudes = new float[groupSize];
        tokenThresholds = new double[groupSize];
        tokenCounts = new int[groupSize];
        tokenSums = new double[groupSize];
        tokenBounds = new float[groupSize];
        tokenFloors = new double[groupSize];
        sortKeys = new int[headDim + 8];
        sortRanks = new int[headDim + 8];
        sortedKeys = new int[headDim + 8];
        channelLow = new float[headDim];
        channelHigh = new float[headDim];
        channelZero = new float[headDim];
        channelInv = new float[headDim];
        thresholds = new float[headDim];
        channelSums = new double[headDim];
        channelCounts = new int[headDim];
        fitScale = new float[headDim];
        fitZero = new float[headDim];
        fitInv = new float[headDim];
        keptScale = new float[headDim];
        keptZero = new float[headDim];
        fitRawScale = new int[headDim];
        fitRawZero = new int[headDim];
        keptRawScale = new int[headDim];
        keptRawZero = new int[headDim];
        fitActive = new boolean[headDim];
        fitBest = new double[headDim];
        fitErrors = new double[headDim];
        fitSums = new double[4 * headDim];
        words = new long[8 * headDim];
        words2 = new long[headDim];
        trits = new int[(EncodeMath.MAX_TOKENS / 5 + 1) * headDim];
        int rows = Math.max(groupSize, maxQueries);
        fftReal = Fftw.allocate(arena, (long) rows * headDim);
        fftComplex = Fftw.allocate(arena, (long) rows * 2 * (headDim / 2 + 1));
        forwardGroup = new RealFftPlan[headDim + 1];
        inverseGroup = new RealFftPlan[headDim + 1];
        forwardQuery = new RealFftPlan[headDim + 1];
    }

    /** r2c plan over G contiguous rows of length n. */
    public RealFftPlan forwardGroup(int n) {
        RealFftPlan p = forwardGroup[n];
        if (p == null) {
            p = forwardGroup[n] = fftw().forward(n, groupSize);
        }
        return p;
    }

    /** c2r plan over G contiguous rows of length n. */
    public RealFftPlan inverseGroup(int n) {
        RealFftPlan p = inverseGroup[n];
        if (p == null) {
            p = inverseGroup[n] = fftw().inverse(n, groupSize);
        }
        return p;
    }

    /** r2c plan over maxQueries contiguous rows of length n (the per-step query transform). */
    public RealFftPlan forwardQuery(int n) {
        RealFftPlan p = forwardQuery[n];
        if (p == null) {
            p = forwardQuery[n] = fftw().forward(n, maxQueries);
        }
        return p;
    }

    /** The process-wide FFTW plan cache (plans are shared; execution is thread-safe). */
    static Fftw fftw() {
        Fftw f = sharedFftw;
        if (f == null) {
            synchronized (CodecScratch.class) {
                f = sharedFftw;
                if (f == null) {
                    f = Fftw.create(Fftw.Rigor.MEASURE);
                    sharedFftw = f;
                }
            }
        }
        return f;
    }

    @Override
    public void close() {
        arena.close();
    }
}
