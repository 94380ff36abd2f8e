package io.vidkv.example;

import io.vidkv.CacheConfig;
import io.vidkv.InputType;
import io.vidkv.KvCache;
import io.vidkv.ModelShape;
import io.vidkv.ParallelRunner;
import io.vidkv.Preset;
import io.vidkv.kernel.DecodeAttention;
import io.vidkv.kernel.PrefillAttention;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A tiny decoder-only transformer (random weights, no MLP: embedding, then per layer RMSNorm,
 * Q/K/V projections with RoPE, attention, output projection and residual; then a final RMSNorm,
 * logits and greedy choice) written the way llama3.java writes one, with its attention pluggable: the engine's own
 * {@code float[contextLength * kvDim]} arrays per layer with a loop over heads, or vidkv. It is the
 * runnable proof of the README's "Embedding in an inference engine": everything an engine changes is
 * in {@link VidkvAttention}. Run it with {@code main} (see the README for the command), or through
 * {@code TinyDecoderTest}.
 *
 * <p>Read it top to bottom: the weights, the two attention implementations, the forward pass, the
 * generation loop, {@code main}.
 */
public final class TinyDecoder {

    /** The model: every matrix row-major, {@code [out][in]}. */
    record Weights(ModelShape shape, int vocab, float[] embedding, float[][] wq, float[][] wk, float[][] wv,
                   float[][] wo, float[][] norm, float[] output) {

        int hidden() {
            return shape.queryHeads() * shape.headDim();
        }

        int kvDim() {
            return shape.kvHeads() * shape.headDim();
        }

        static Weights random(ModelShape shape, int vocab, long seed) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int hidden = shape.queryHeads() * shape.headDim(), kvDim = shape.kvHeads() * shape.headDim();
            int layers = shape.layers();
            float[][] wq = new float[layers][], wk = new float[layers][], wv = new float[layers][], wo = new float[layers][];
            float[][] norm = new float[layers][];
            for (int l = 0; l < layers; l++) {
                wq[l] = gaussian(rnd, hidden * hidden, 1 / Math.sqrt(hidden));
                wk[l] = gaussian(rnd, kvDim * hidden, 1 / Math.sqrt(hidden));
                wv[l] = gaussian(rnd, kvDim * hidden, 1 / Math.sqrt(hidden));
                wo[l] = gaussian(rnd, hidden * hidden, 1 / Math.sqrt(hidden));
                norm[l] = new float[hidden];
                Arrays.fill(norm[l], 1f);
                // a few key channels with a large gain, as trained models have (the "anomalous" channels)
                for (int r = 0; r < kvDim; r += 16) {
                    for (int c = 0; c < hidden; c++) {
                        wk[l][r * hidden + c] *= 6;
                    }
                }
            }
            return new Weights(shape, vocab, gaussian(rnd, vocab * hidden, 1), wq, wk, wv, wo, norm,
                    gaussian(rnd, vocab * hidden, 1 / Math.sqrt(hidden)));
        }

        private static float[] gaussian(SplittableRandom rnd, int n, double sd) {
            float[] a = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = (float) (sd * rnd.nextGaussian());
            }
            return a;
        }
    }

    /**
     * What the forward pass needs from attention: store a layer's K and V of {@code n} tokens at
     * positions {@code first..}, and attend their queries causally over everything stored so far.
     * All arrays are {@code [n][heads][headDim]} float32.
     */
    interface Attention extends AutoCloseable {
        void attend(int layer, float[] k, float[] v, float[] q, float[] out, int n, int first);

        @Override
        void close();
    }

    /** The engine's own attention, as llama3.java has it: float[] K/V arrays per layer and a loop over heads. */
    static final class ArrayAttention implements Attention {
        private final ModelShape shape;
        private final float[][] keyCache;
        private final float[][] valueCache;

        ArrayAttention(ModelShape shape, int contextLength) {
            this.shape = shape;
            int kvDim = shape.kvHeads() * shape.headDim();
            this.keyCache = new float[shape.layers()][contextLength * kvDim];
            this.valueCache = new float[shape.layers()][contextLength * kvDim];
        }

        @Override
        public void attend(int layer, float[] k, float[] v, float[] q, float[] out, int n, int first) {
            int d = shape.headDim(), kvDim = shape.kvHeads() * d, gq = shape.queriesPerKvHead();
            System.arraycopy(k, 0, keyCache[layer], first * kvDim, n * kvDim);
            System.arraycopy(v, 0, valueCache[layer], first * kvDim, n * kvDim);
            float[] att = new float[first + n];
            for (int i = 0; i < n; i++) {
                int pos = first + i;
                for (int h = 0; h < shape.queryHeads(); h++) {
                    int kvh = h / gq, qo = (i * shape.queryHeads() + h) * d;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int t = 0; t <= pos; t++) {
                        float s = 0;
                        for (int c = 0; c < d; c++) {
                            s += q[qo + c] * keyCache[layer][t * kvDim + kvh * d + c];
                        }
                        att[t] = s / (float) Math.sqrt(d);
                        max = Math.max(max, att[t]);
                    }
                    float sum = 0;
                    for (int t = 0; t <= pos; t++) {
                        att[t] = (float) Math.exp(att[t] - max);
                        sum += att[t];
                    }
                    Arrays.fill(out, qo, qo + d, 0f);
                    for (int t = 0; t <= pos; t++) {
                        float w = att[t] / sum;
                        for (int c = 0; c < d; c++) {
                            out[qo + c] += w * valueCache[layer][t * kvDim + kvh * d + c];
                        }
                    }
                }
            }
        }

        @Override
        public void close() {
        }
    }

    /**
     * The same attention on vidkv: the K/V arrays become a {@link KvCache}, the head loop becomes
     * {@link DecodeAttention} for one new token and {@link PrefillAttention} for a prompt. The engine's
     * float[] buffers are passed as heap {@link MemorySegment}s ({@code MemorySegment.ofArray}); an engine
     * that reuses its buffers can wrap each once and keep the segment, and then a decode step
     * allocates nothing on the heap.
     */
    static final class VidkvAttention implements Attention {
        private final ParallelRunner runner;
        private final KvCache cache;
        private final DecodeAttention decode;
        private final PrefillAttention prefill;
        private final int maxPrompt;

        VidkvAttention(ModelShape shape, Preset preset, int contextLength, int maxPrompt) {
            this.maxPrompt = maxPrompt;
            this.runner = new ParallelRunner(2);
            this.cache = KvCache.create(shape, CacheConfig.of(shape, preset).withCapacity(contextLength), runner);
            this.decode = new DecodeAttention(cache, runner);
            this.prefill = new PrefillAttention(cache, maxPrompt, 256);
        }

        KvCache cache() {
            return cache;
        }

        @Override
        public void attend(int layer, float[] k, float[] v, float[] q, float[] out, int n, int first) {
            if (first != cache.tokenCount(layer)) {
                throw new IllegalStateException("tokens must arrive in order");
            }
            cache.append(layer, MemorySegment.ofArray(k), MemorySegment.ofArray(v), n, InputType.F32);
            if (n == 1) {
                decode.attend(layer, MemorySegment.ofArray(q), MemorySegment.ofArray(out));
            } else {
                if (n > maxPrompt) {
                    throw new IllegalArgumentException("prompt of " + n + " tokens, at most " + maxPrompt);
                }
                prefill.attend(layer, MemorySegment.ofArray(q), MemorySegment.ofArray(out), n, first);
            }
        }

        @Override
        public void close() {
            try (runner; cache; decode; prefill) {
                // closes all four, last opened first
            }
        }
    }

    /** One forward pass over {@code n} tokens at positions {@code first..}: returns [n][vocab] logits. */
    static float[] forward(Weights w, Attention attention, int[] tokens, int first) {
        ModelShape shape = w.shape();
        int n = tokens.length, hidden = w.hidden(), kvDim = w.kvDim(), d = shape.headDim();
        float[] x = new float[n * hidden];
        for (int i = 0; i < n; i++) {
            System.arraycopy(w.embedding(), tokens[i] * hidden, x, i * hidden, hidden);
        }
        float[] xn = new float[n * hidden], q = new float[n * hidden], k = new float[n * kvDim], v = new float[n * kvDim];
        float[] att = new float[n * hidden], o = new float[n * hidden];
        for (int layer = 0; layer < shape.layers(); layer++) {
            rmsNorm(x, w.norm()[layer], xn, n, hidden);
            matmul(xn, w.wq()[layer], q, n, hidden, hidden);
            matmul(xn, w.wk()[layer], k, n, hidden, kvDim);
            matmul(xn, w.wv()[layer], v, n, hidden, kvDim);
            rope(q, n, shape.queryHeads(), d, first);
            rope(k, n, shape.kvHeads(), d, first);
            attention.attend(layer, k, v, q, att, n, first);
            matmul(att, w.wo()[layer], o, n, hidden, hidden);
            for (int i = 0; i < n * hidden; i++) {
                x[i] += o[i];
            }
        }
        float[] logits = new float[n * w.vocab()];
        float[] ones = new float[hidden];
        Arrays.fill(ones, 1f);
        rmsNorm(x, ones, xn, n, hidden);
        matmul(xn, w.output(), logits, n, hidden, w.vocab());
        return logits;
    }

    /** Greedy generation: the prompt in one pass, then one token at a time. */
    static int[] generate(Weights w, Attention attention, int[] prompt, int newTokens) {
        int[] out = new int[newTokens];
        float[] logits = forward(w, attention, prompt, 0);
        int next = argmax(logits, (prompt.length - 1) * w.vocab(), w.vocab());
        for (int s = 0; s < newTokens; s++) {
            out[s] = next;
            logits = forward(w, attention, new int[]{next}, prompt.length + s);
            next = argmax(logits, 0, w.vocab());
        }
        return out;
    }

    static int argmax(float[] a, int from, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (a[from + i] > a[from + best]) {
                best = i;
            }
        }
        return best;
    }

    private static void rmsNorm(float[] x, float[] gain, float[] out, int n, int dim) {
        for (int i = 0; i < n; i++) {
            double ss = 0;
            for (int c = 0; c < dim; c++) {
                ss += x[i * dim + c] * x[i * dim + c];
            }
            float r = (float) (1 / Math.sqrt(ss / dim + 1e-5));
            for (int c = 0; c < dim; c++) {
                out[i * dim + c] = x[i * dim + c] * r * gain[c];
            }
        }
    }

    /** out[i][r] = sum_c in[i][c] * w[r][c]. */
    private static void matmul(float[] in, float[] w, float[] out, int n, int inDim, int outDim) {
        for (int i = 0; i < n; i++) {
            for (int r = 0; r < outDim; r++) {
                float s = 0;
                for (int c = 0; c < inDim; c++) {
                    s += in[i * inDim + c] * w[r * inDim + c];
                }
                out[i * outDim + r] = s;
            }
        }
    }

    /** Rotary position embedding (theta 10,000), pairs (c, c + d/2), as Llama/Qwen apply it. */
    private static void rope(float[] x, int n, int heads, int d, int first) {
        for (int i = 0; i < n; i++) {
            for (int h = 0; h < heads; h++) {
                int o = (i * heads + h) * d;
                for (int c = 0; c < d / 2; c++) {
                    double angle = (first + i) * Math.pow(10_000, -2.0 * c / d);
                    float cos = (float) Math.cos(angle), sin = (float) Math.sin(angle);
                    float a = x[o + c], b = x[o + c + d / 2];
                    x[o + c] = a * cos - b * sin;
                    x[o + c + d / 2] = a * sin + b * cos;
                }
            }
        }
    }

    /**
     * Runs the same tokens through both attentions, teacher-forced (each step feeds the next token of
     * {@code tokens}, not the model's own choice, so one flipped choice does not make every later step
     * differ): the prompt {@code tokens[0..promptTokens)} in one pass, then one token per step.
     *
     * @return {max |logit difference| / max |logit|, fraction of steps whose top-1 token agrees}
     */
    static double[] compareTeacherForced(Weights w, Preset preset, int[] tokens, int promptTokens) {
        int steps = tokens.length - promptTokens;
        int[] prompt = Arrays.copyOf(tokens, promptTokens);
        double maxDiff = 0, maxLogit = 0;
        int agree = 0;
        try (ArrayAttention arrays = new ArrayAttention(w.shape(), tokens.length);
             VidkvAttention vidkv = new VidkvAttention(w.shape(), preset, tokens.length, promptTokens)) {
            float[] a = forward(w, arrays, prompt, 0);
            float[] b = forward(w, vidkv, prompt, 0);
            for (int s = 0; s <= steps; s++) {
                int from = s == 0 ? (promptTokens - 1) * w.vocab() : 0; // the last row of the prompt pass
                for (int i = 0; i < w.vocab(); i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(a[from + i] - b[from + i]));
                    maxLogit = Math.max(maxLogit, Math.abs(a[from + i]));
                }
                agree += argmax(a, from, w.vocab()) == argmax(b, from, w.vocab()) ? 1 : 0;
                if (s < steps) {
                    int[] next = {tokens[promptTokens + s]};
                    a = forward(w, arrays, next, promptTokens + s);
                    b = forward(w, vidkv, next, promptTokens + s);
                }
            }
        }
        return new double[]{maxDiff / maxLogit, agree / (double) (steps + 1)};
    }

    /**
     * Generates with the engine's arrays and with vidkv (a preset id as the first argument, default
     * {@code vidkv-1.5/1.58}), prints both token streams (a random model is chaotic: once one choice
     * differs, the streams part), then the teacher-forced comparison and the cache's bits per element.
     *
     * @param args optional preset id
     */
    public static void main(String[] args) {
        ModelShape shape = new ModelShape(4, 8, 2, 64);
        Weights w = Weights.random(shape, 96, 42);
        int promptTokens = 500, newTokens = 16;
        int[] tokens = new SplittableRandom(7).ints(promptTokens + newTokens, 0, w.vocab()).toArray();
        int[] prompt = Arrays.copyOf(tokens, promptTokens);
        Preset preset = Preset.byId(args.length > 0 ? args[0] : "vidkv-1.5/1.58");
        int[] reference, ours;
        try (ArrayAttention arrays = new ArrayAttention(shape, promptTokens + newTokens)) {
            reference = generate(w, arrays, prompt, newTokens);
        }
        double bits;
        try (VidkvAttention vidkv = new VidkvAttention(shape, preset, promptTokens + newTokens, promptTokens)) {
            ours = generate(w, vidkv, prompt, newTokens);
            bits = vidkv.cache().memoryReport().effectiveBits();
        }
        double[] forced = compareTeacherForced(w, preset, tokens, promptTokens);
        System.out.println("float[] arrays : " + Arrays.toString(reference));
        System.out.printf("%-15s: %s%n", preset.id(), Arrays.toString(ours));
        System.out.printf("teacher-forced over %d steps: top-1 agrees in %.0f %%, logits within %.3f of the largest;"
                + " %s stores %.2f effective bits per element%n", newTokens + 1, 100 * forced[1], forced[0], preset.id(), bits);
    }
}
