package io.vidkv.eval;

import io.vidkv.CacheConfig;
import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.LayerConfig;
import io.vidkv.MemoryReport;
import io.vidkv.ModelShape;
import io.vidkv.ParallelRunner;
import io.vidkv.TokenSaliency;
import io.vidkv.kernel.DecodeAttention;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Runs variants over the layers of a {@link KvSource} and measures, per layer and overall:
 * relative Frobenius error of the dequantized keys and values; for the data's queries, the relative
 * L2 error of the fused decode attention output against float64 attention on the original K/V, the
 * KL divergence of the attention distributions (original || quantized, the quantized one computed
 * from the dequantized keys) and the recall of the top-k most attended tokens; bits and bytes from
 * the {@link MemoryReport}; and, as an indication only (single runs; JMH is the authority), the time
 * per quantized token and per decode attention step.
 */
public final class Evaluator {

    /** Metrics of one variant on one layer. */
    public record LayerResult(int layer, double keyRelError, double valueRelError, double attnRelError, double attnKl,
                              double topkRecall) {
    }

    /**
     * Metrics of one variant over all evaluated layers, with the protocol it ran under: the residual
     * window R, calibration groups C and group size G of its configuration, the page size of its
     * cache and the protected tokens summed over the layers (0 without protection).
     */
    public record Result(String preset, double effectiveBits, double nominalBits, double totalBits, double compressionRatio,
                         long modelBytes, double keyRelError, double valueRelError, double attnRelError, double attnKl,
                         double topkRecall, double quantizeNsPerToken, double decodeStepMs, List<LayerResult> layers,
                         int residual, int calibrationGroups, int groupSize, int pageBytes, long protectedTokens) {
    }

    /**
     * The page size an evaluation gives a configuration: the smallest whole number of its largest
     * blocks that is at least the library's minimum of 4096 bytes (one block of 2,240 bytes would
     * leave 1,856 bytes of every 4096-byte page empty; two fill 4,480), and at least 8 of them when
     * protected tokens make blocks vary in size. Each KV head's stream holds
     * whole pages, so with the default 64 KiB a short sequence (512 tokens) would pay for a mostly
     * empty page per head and every preset, fp16 included, would show the same total bits; with
     * pages this small only the last page of each head has an unused tail.
     *
     * @param config  the layer configuration
     * @param headDim channels per head
     * @return the page size in bytes
     */
    public static int pageBytes(LayerConfig config, int headDim) {
        long block = config.maxBlockBytes(headDim);
        // Blocks pack back to back, so a whole number of equal blocks leaves no tail in a page. With
        // protected tokens blocks vary in size (the largest has every token protected), so take at
        // least 8 of the largest: a page then ends with less than an eighth of it unused.
        long blocks = Math.max((4096 + block - 1) / block, config.values().protection() ? 8 : 1);
        return (int) (block * blocks);
    }

    private final KvSource source;
    private final List<Integer> layers;
    private final ParallelRunner runner;
    private final int topK;

    public Evaluator(KvSource source, List<Integer> layers, ParallelRunner runner, int topK) {
        for (int l : layers) {
            if (l < 0 || l >= source.shape().layers()) {
                throw new IllegalArgumentException("layer " + l + " out of range [0, " + source.shape().layers() + ")");
            }
        }
        this.source = source;
        this.layers = List.copyOf(layers);
        this.runner = runner;
        this.topK = topK;
    }

    /** Evaluates every variant on every layer; {@code step} is called after each (variant, layer). */
    public List<Result> run(List<Variant> variants, Consumer<String> step) {
        ModelShape shape = source.shape();
        int n = source.tokens();
        int v = variants.size();
        double[][] err = new double[v][6]; // key num/den, value num/den, attn num/den
        double[] kl = new double[v], recall = new double[v], quantNs = new double[v], stepNs = new double[v];
        long[] bytesHeld = new long[v], fp16 = new long[v], protectedCount = new long[v];
        double[] effNum = new double[v], effDen = new double[v], totNum = new double[v], totDen = new double[v], nominal = new double[v];
        List<List<LayerResult>> perLayer = new ArrayList<>();
        for (int i = 0; i < v; i++) {
            perLayer.add(new ArrayList<>());
        }
        int queryCount = 0;
        ModelShape one = new ModelShape(1, shape.queryHeads(), shape.kvHeads(), shape.headDim());
        for (int layer : layers) {
            try (Arena arena = Arena.ofShared()) {
                LayerData data = source.layer(layer, arena);
                Exact exact = exact(data, shape);
                queryCount += data.queryTokens() * shape.queryHeads();
                for (int i = 0; i < v; i++) {
                    Variant var = variants.get(i);
                    CacheConfig config = CacheConfig.uniform(one, var.config()).withCapacity(n + 64)
                            .withPageBytes(pageBytes(var.config(), shape.headDim()));
                    try (KvCache cache = KvCache.create(one, config, runner);
                         DecodeAttention attn = new DecodeAttention(cache, runner)) {
                        if (var.config().values().protection()) {
                            int[] salient = TokenSaliency.topFraction(exact.received, 0, var.config().values().protectedFraction());
                            int[] chosen = var.protection() == Variant.Protection.SALIENT ? salient
                                    : randomLike(salient, n, var.config().groupSize(), data.layer());
                            cache.protect(chosen);
                            protectedCount[i] += chosen.length;
                        }
                        long t0 = System.nanoTime();
                        cache.append(0, data.keys(), data.values(), n, InputType.F32);
                        quantNs[i] += System.nanoTime() - t0;
                        MemoryReport r = cache.memoryReport();
                        long quantElements = (long) r.layers().getFirst().quantizedTokens() * one.tokenElements() * 2;
                        effNum[i] += (r.payloadBytes() + r.metadataBytes()) * 8.0;
                        effDen[i] += quantElements;
                        totNum[i] += (r.pageBytes() + r.residualBytes()) * 8.0;
                        totDen[i] += (double) n * one.tokenElements() * 2;
                        bytesHeld[i] += r.pageBytes() + r.residualBytes();
                        fp16[i] += r.fp16Bytes();
                        nominal[i] = r.nominalBits();
                        LayerResult lr = measure(cache, attn, data, exact, shape, err[i], stepNs, i);
                        kl[i] += lr.attnKl() * data.queryTokens() * shape.queryHeads();
                        recall[i] += lr.topkRecall() * data.queryTokens() * shape.queryHeads();
                        perLayer.get(i).add(lr);
                    }
                    step.accept(var.name() + " layer " + data.layer());
                }
            }
        }
        List<Result> out = new ArrayList<>();
        for (int i = 0; i < v; i++) {
            long modelBytes = bytesHeld[i] / layers.size() * shape.layers();
            out.add(new Result(variants.get(i).name(), effDen[i] == 0 ? 0 : effNum[i] / effDen[i], nominal[i], totNum[i] / totDen[i],
                    (double) fp16[i] / bytesHeld[i], modelBytes, Math.sqrt(err[i][0] / err[i][1]), Math.sqrt(err[i][2] / err[i][3]),
                    Math.sqrt(err[i][4] / err[i][5]), kl[i] / queryCount, recall[i] / queryCount,
                    quantNs[i] / ((double) n * layers.size()), stepNs[i] / 1e6 / Math.max(1, queryCount / shape.queryHeads()),
                    List.copyOf(perLayer.get(i)), variants.get(i).config().residual(), variants.get(i).config().calibrationGroups(),
                    variants.get(i).config().groupSize(), pageBytes(variants.get(i).config(), shape.headDim()), protectedCount[i]));
        }
        return out;
    }

    /** float64 attention on the original K/V: outputs, probabilities, and attention received per token. */
    private record Exact(double[][] out, float[][] probs, float[] received) {
    }

    private Exact exact(LayerData data, ModelShape shape) {
        int d = shape.headDim(), qh = shape.queryHeads(), n = data.tokens();
        double[][] out = new double[data.queryTokens() * qh][d];
        float[][] probs = new float[data.queryTokens() * qh][];
        float[] received = new float[n];
        for (int i = 0; i < data.queryTokens(); i++) {
            for (int h = 0; h < qh; h++) {
                int row = i * qh + h;
                int kv = h / shape.queriesPerKvHead();
                double[] q = query(data, shape, i, h);
                int visible = Math.min(n, data.queryPositions()[i] + 1);
                double[] s = new double[visible];
                for (int t = 0; t < visible; t++) {
                    s[t] = dot(q, data.keys(), ((long) t * shape.kvHeads() + kv) * d, d) / Math.sqrt(d);
                }
                double[] p = softmax(s);
                probs[row] = new float[visible];
                for (int t = 0; t < visible; t++) {
                    probs[row][t] = (float) p[t];
                    received[t] += (float) p[t];
                    long base = ((long) t * shape.kvHeads() + kv) * d;
                    for (int c = 0; c < d; c++) {
                        out[row][c] += p[t] * data.values().getAtIndex(ValueLayout.JAVA_FLOAT, base + c);
                    }
                }
            }
        }
        return new Exact(out, probs, received);
    }

    private LayerResult measure(KvCache cache, DecodeAttention attn, LayerData data, Exact exact, ModelShape shape,
                                double[] err, double[] stepNs, int variant) {
        int d = shape.headDim(), qh = shape.queryHeads(), n = data.tokens(), kvh = shape.kvHeads();
        double[] local = new double[6];
        // reconstruction
        double[][][][] deq = new double[kvh][][][];
        for (int h = 0; h < kvh; h++) {
            deq[h] = CacheContents.dequantize(cache, 0, h);
            for (int t = 0; t < n; t++) {
                long base = ((long) t * kvh + h) * d;
                for (int c = 0; c < d; c++) {
                    double k = data.keys().getAtIndex(ValueLayout.JAVA_FLOAT, base + c);
                    double v = data.values().getAtIndex(ValueLayout.JAVA_FLOAT, base + c);
                    local[0] += sq(deq[h][0][t][c] - k);
                    local[1] += k * k;
                    local[2] += sq(deq[h][1][t][c] - v);
                    local[3] += v * v;
                }
            }
        }
        // attention through the fused kernel, and distributions from the dequantized keys
        double klSum = 0, recallSum = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate((long) qh * d * 4);
            for (int i = 0; i < data.queryTokens(); i++) {
                MemorySegment q = data.queries().asSlice((long) i * qh * d * 4, (long) qh * d * 4);
                long t0 = System.nanoTime();
                attn.attend(0, q, out, data.queryPositions()[i]);
                stepNs[variant] += System.nanoTime() - t0;
                for (int h = 0; h < qh; h++) {
                    int row = i * qh + h;
                    for (int c = 0; c < d; c++) {
                        double e = exact.out[row][c];
                        local[4] += sq(out.getAtIndex(ValueLayout.JAVA_FLOAT, (long) h * d + c) - e);
                        local[5] += e * e;
                    }
                    int kv = h / shape.queriesPerKvHead();
                    double[] qv = query(data, shape, i, h);
                    float[] p = exact.probs[row];
                    double[] s = new double[p.length];
                    for (int t = 0; t < p.length; t++) {
                        double dotv = 0;
                        for (int c = 0; c < d; c++) {
                            dotv += qv[c] * deq[kv][0][t][c];
                        }
                        s[t] = dotv / Math.sqrt(d);
                    }
                    double[] pq = softmax(s);
                    double kl = 0;
                    for (int t = 0; t < p.length; t++) {
                        if (p[t] > 0) {
                            kl += p[t] * Math.log(p[t] / Math.max(pq[t], 1e-300));
                        }
                    }
                    klSum += Math.max(0, kl);
                    recallSum += recall(p, pq, Math.min(topK, p.length));
                }
            }
        }
        for (int j = 0; j < 6; j++) {
            err[j] += local[j];
        }
        int rows = data.queryTokens() * qh;
        return new LayerResult(data.layer(), Math.sqrt(local[0] / local[1]), Math.sqrt(local[2] / local[3]),
                Math.sqrt(local[4] / local[5]), klSum / rows, recallSum / rows);
    }

    private static double[] query(LayerData data, ModelShape shape, int i, int h) {
        int d = shape.headDim();
        double[] q = new double[d];
        long base = ((long) i * shape.queryHeads() + h) * d;
        for (int c = 0; c < d; c++) {
            q[c] = data.queries().getAtIndex(ValueLayout.JAVA_FLOAT, base + c);
        }
        return q;
    }

    private static double dot(double[] q, MemorySegment keys, long base, int d) {
        double s = 0;
        for (int c = 0; c < d; c++) {
            s += q[c] * keys.getAtIndex(ValueLayout.JAVA_FLOAT, base + c);
        }
        return s;
    }

    private static double[] softmax(double[] s) {
        double m = Double.NEGATIVE_INFINITY;
        for (double x : s) {
            m = Math.max(m, x);
        }
        double l = 0;
        double[] p = new double[s.length];
        for (int t = 0; t < s.length; t++) {
            p[t] = Math.exp(s[t] - m);
            l += p[t];
        }
        for (int t = 0; t < s.length; t++) {
            p[t] /= l;
        }
        return p;
    }

    /** Share of the k most attended tokens under p that are also among the k most attended under q. */
    static double recall(float[] p, double[] q, int k) {
        int[] a = topIndices(p.length, k, i -> p[i]);
        int[] b = topIndices(q.length, k, i -> q[i]);
        java.util.Arrays.sort(b);
        int hit = 0;
        for (int x : a) {
            if (java.util.Arrays.binarySearch(b, x) >= 0) {
                hit++;
            }
        }
        return k == 0 ? 1 : (double) hit / k;
    }

    /** Indices of the k largest scores (ties to the lower index): one pass with a k-slot min-heap. */
    private static int[] topIndices(int n, int k, java.util.function.IntToDoubleFunction score) {
        int[] heap = new int[k];
        double[] key = new double[k];
        int size = 0;
        for (int i = 0; i < n; i++) {
            double v = score.applyAsDouble(i);
            if (size < k) {
                heap[size] = i;
                key[size] = v;
                int c = size++;
                while (c > 0 && key[(c - 1) / 2] > key[c]) {
                    swap(heap, key, c, (c - 1) / 2);
                    c = (c - 1) / 2;
                }
            } else if (v > key[0]) {
                heap[0] = i;
                key[0] = v;
                int c = 0;
                while (true) {
                    int l = 2 * c + 1, r = l + 1, m = c;
                    if (l < k && key[l] < key[m]) {
                        m = l;
                    }
                    if (r < k && key[r] < key[m]) {
                        m = r;
                    }
                    if (m == c) {
                        break;
                    }
                    swap(heap, key, c, m);
                    c = m;
                }
            }
        }
        return java.util.Arrays.copyOf(heap, size);
    }

    private static void swap(int[] h, double[] k, int a, int b) {
        int t = h[a];
        h[a] = h[b];
        h[b] = t;
        double x = k[a];
        k[a] = k[b];
        k[b] = x;
    }

    /**
     * Random tokens at the bits of {@code salient}: in every group of G tokens (the blocks the
     * cache will form, from position 0) as many tokens as {@code salient} has there, chosen
     * uniformly. A block's size depends only on how many of its tokens are protected, so the random
     * control costs exactly the salient choice's bits; drawing p of all tokens instead gave other
     * counts per block and, with salient tokens clustered in the residual window or not, other bits
     * (2.99 vs 2.88), which mixed the bit cost into the error comparison.
     */
    static int[] randomLike(int[] salient, int n, int g, int layer) {
        SplittableRandom rnd = new SplittableRandom(7919L * layer + 1);
        int[] out = new int[salient.length];
        int k = 0, j = 0;
        for (int start = 0; start < n; start += g) {
            int size = Math.min(g, n - start), want = 0;
            while (j < salient.length && salient[j] < start + size) {
                want++;
                j++;
            }
            // a partial Fisher-Yates shuffle of the group's offsets: want distinct tokens
            int[] offsets = new int[size];
            for (int t = 0; t < size; t++) {
                offsets[t] = t;
            }
            for (int t = 0; t < want; t++) {
                int pick = t + rnd.nextInt(size - t);
                int x = offsets[pick];
                offsets[pick] = offsets[t];
                offsets[t] = x;
            }
            java.util.Arrays.sort(offsets, 0, want);
            for (int t = 0; t < want; t++) {
                out[k++] = start + offsets[t];
            }
        }
        return out;
    }

    private static double sq(double x) {
        return x * x;
    }

    /** The attention-received scorer over data's queries, exposed for callers that protect tokens themselves. */
    public static float[] attentionReceived(LayerData data, ModelShape shape, int kvHead) {
        MemorySegment keys = data.keys();
        int d = shape.headDim();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment k = a.allocate((long) data.tokens() * d * 4);
            MemorySegment q = a.allocate((long) data.queryTokens() * d * 4);
            for (int t = 0; t < data.tokens(); t++) {
                MemorySegment.copy(keys, ((long) t * shape.kvHeads() + kvHead) * d * 4, k, (long) t * d * 4, d * 4L);
            }
            for (int i = 0; i < data.queryTokens(); i++) {
                MemorySegment.copy(data.queries(), ((long) i * shape.queryHeads() + (long) kvHead * shape.queriesPerKvHead()) * d * 4,
                        q, (long) i * d * 4, d * 4L);
            }
            return TokenSaliency.attentionReceived(k, data.tokens(), q, data.queryTokens(), d);
        }
    }
}
