package io.vidkv.kernel;

import java.lang.foreign.MemorySegment;

/**
 * The hot loops of the fused decode kernels, with the query heads of one KV head in the
 * {@link #LANES} float lanes of every vector: a "lane vector" is {@code LANES} consecutive floats
 * {@code x[i * LANES + j]}, one per query head j. Scores are {@code scores[t * LANES + j]}, the
 * softmax weights {@code p} the same, queries and weights per row {@code w[r * LANES + j]}, the
 * running output {@code out[c * LANES + j]}. Because every sum over tokens, rows or channels is
 * taken lane by lane in a fixed order, the results do not depend on the thread count, and the two
 * bodies ({@link PanamaKernelMath}, 256-bit Vector API; {@link ScalarKernelMath}, plain Java) give
 * the same bits: they perform the same IEEE operations per lane.
 *
 * <p>Keys are scored with the tokens in the lanes instead: one bit row of a block (one code bit of
 * one row of every token) is a lane mask, and each query head's folded weight of the row is added
 * to the tokens whose bit is set; the scores are then transposed to [t][lane]. Values use <em>token
 * tables</em>: for five consecutive tokens, the 32 sums of their probabilities; a channel's sum over
 * the tokens with a given code bit set is one table load per five tokens. Both chosen by JMH
 * (BENCHMARKS.md, which also records the losers).
 */
interface KernelMath {

    /** Query heads per vector: 8 floats of a 256-bit register. */
    int LANES = 8;
    /** Floats of one token table (32 entries). */
    int TOKEN_TABLE = 32 * LANES;

    /**
     * Scores of G tokens from key bit rows: scores[t * LANES + j] = bias[j] + the sum, over the rows i
     * < rows (in order) whose bit t is set, of w[i * LANES + j]. Row i is G bits (bit t = token t) at
     * {@code codes + i * G / 8}; at least 8 bytes must be readable from every row's start.
     */
    void planeScores(MemorySegment seg, long codes, int rows, int groupSize, float[] w, float[] bias, float[] scratch,
                     float[] scores);

    /**
     * ceil(tokens / 5) token tables of the weights p[t * LANES + j] * perToken[t] (all ones where the
     * values have no per-token scale: p * 1 is p exactly; tokens beyond {@code tokens} weigh 0): entry m of table g = the sum over the bits k set in m of
     * token 5g + k's weight, built as weight_k + entry (m - 2^k) for the highest bit k.
     */
    void tokenTables(float[] p, float[] perToken, int tokens, float[] tables);

    /**
     * Ternary BASE3 values: for channels c < d, with S+ and S- the sums of p over the tokens whose trit
     * is +1 and -1, out[c] = out[c] * rescale + scale[c] * (S+ - S-). Byte i of channel c at
     * {@code codes + c * fullBytes + i}; tail of {@code tailBits} bits at bit c * tailBits of
     * {@code tail} (none if tailBits is 0).
     */
    void ternaryBase3(MemorySegment seg, long codes, int fullBytes, long tail, int tailBits, int d, float[] tables,
                      float[] scales, float[] rescale, float[] out, int outOff);

    /** Ternary PLANES values: as {@link #ternaryBase3} with G-bit nonzero and negative planes per channel. */
    void ternaryPlanes(MemorySegment seg, long codes, int groupSize, int d, float[] tables, float[] scales,
                       float[] rescale, float[] out, int outOff);

    /**
     * Uniform values, channels [c0, c1): with A = sum over planes p of 2^p (sum of p over tokens
     * whose bit p is set), out[c] = out[c] * rescale + mul[c] * A + add[c * addStride] (a lane vector:
     * addStride LANES gives one per channel, 0 one for all). Plane p of channel c at
     * {@code codes + (c * bits + p) * G/8}.
     */
    void uniformValues(MemorySegment seg, long codes, int bits, int groupSize, int c0, int c1, float[] tables,
                       float[] mul, float[] add, int addStride, float[] rescale, float[] out, int outOff);

    /** out[c] += p[t] * v[c] for one token's dequantized values v[c] = vals[vOff + c], c < d. */
    void axpyToken(float[] p, int t, float[] vals, int vOff, int d, float[] out, int outOff);

    /** scores[t] = sum_c q[qOff + c] * rows[t * d + c] for t < tokens (q lane vectors, rows dense floats). */
    void denseScores(float[] rows, int d, int tokens, float[] q, int qOff, float[] scores);

    /** out[c] = out[c] * rescale + sum_t p[t] * rows[t * d + c], c < d. */
    void denseValues(float[] rows, int d, int tokens, float[] p, float[] rescale, float[] out, int outOff);

    /**
     * One block's online-softmax step: scores of the first {@code visible} of {@code tokens} tokens
     * become p = exp(s - mNew) in place (the rest 0), with mNew = max(m, max_t s); then
     * rescale = exp(m - mNew), l = l * rescale + sum_t p (summed in token order), m = mNew.
     */
    void softmax(float[] scores, int visible, int tokens, float[] m, float[] l, float[] rescale);

    /**
     * w[(wRow + r) * LANES + j] = factor * (q[qOff + r * LANES + j] * scales[r]) for r < rows: a
     * block's per-bit weights (factor 1 or 2: the power of two of the bit).
     */
    void foldWeights(float[] q, int qOff, float[] scales, int rows, float factor, float[] w, int wRow);

    /** bias[j] = fma(q[qOff + r * LANES + j], zeros[r], bias[j]) for r = 0, 1, .. rows - 1, in order. */
    void foldZeros(float[] q, int qOff, float[] zeros, int rows, float[] bias);

    /** bias[j] -= q[qOff + r * LANES + j] * scales[r] for r = 0, 1, .. rows - 1, in order. */
    void foldSigns(float[] q, int qOff, float[] scales, int rows, float[] bias);

    /**
     * One VidKV key block of G = 32 tokens ({@code io.vidkv.layout.VidkvKeyLayout}) into a prefill
     * tile in row space, token-major: for token t, the float at byte {@code dst + 4 (t d + r)} of
     * {@code tile} becomes fma(scales[r], bit t of row r + 2 bit t of row a + r, zeros[r]) for the a
     * anomalous rows r, and +scales[a + j] or -scales[a + j] by bit t of row 2a + j for the n
     * components (row a + j of the tile); bit row i is the 32-bit little-endian word at
     * {@code codes + 4 i} of {@code seg}. {@code words} is scratch of 2a + n ints: the page is read
     * with scalar loads only, because a vector load from a mapped snapshot whose file was truncated
     * crashes the JVM (SIGBUS) where a scalar load throws an InternalError.
     */
    void vidkvKeyTile32(MemorySegment seg, long codes, int a, int n, float[] scales, float[] zeros, int[] words,
                        MemorySegment tile, long dst, int d);

    /**
     * One ternary BASE3 value block of G = 32 tokens ({@code io.vidkv.layout.TernaryLayout}: channel
     * c's six 5-trit bytes at {@code codes + 6 c}, its 2-trit tail at bits [4c, 4c + 4) of
     * {@code tail}) into a prefill tile, token-major: the float at byte {@code dst + 4 (t d + c)} of
     * {@code tile} becomes scales[c] * trit(t, c) (digit 0, 1, 2 = 0, +1, -1). {@code bytes} is
     * scratch of 7 d ints (the page is read with scalar loads only, as for the keys); d is a multiple of 8.
     */
    void ternaryTile32(MemorySegment seg, long codes, long tail, float[] scales, int[] bytes, MemorySegment tile, long dst,
                       int d);

    /** max of the n floats at byte offset {@code off} of {@code tile} (a score row of the native prefill tile). */
    float tileRowMax(MemorySegment tile, long off, int n);

    /**
     * Softmax weights in place on a prefill score row, sixteen scores at a time: for the whole groups
     * of sixteen in [from, to) (from and to multiples of 16) of the floats x at byte offset
     * {@code off} of {@code tile}, x[i] = exp(x[i] - shift), and partial[k] += x[i] for i = k (mod 16),
     * in index order. Stops before the first group that holds a score above {@code shift}, leaving it
     * untouched, so that the caller can raise the shift and go on: exp is taken of arguments <= 0
     * only. Returns the index of that group, or {@code to}. In place, because a separate weight tile
     * doubled the memory traffic of a pass that is bound by it.
     */
    int tileRowExp(MemorySegment tile, long off, int from, int to, float shift, float[] partial);

    /** x[i] *= factor for the n floats at byte offset {@code off} of {@code tile} (an output row, rescaled). */
    void tileRowScale(MemorySegment tile, long off, int n, float factor);

    /** Name for reports. */
    String name();
}
