package io.vidkv.eval;

import io.vidkv.ModelShape;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * The embedded default data: a synthetic, deterministic (from a seed) video-LLM KV cache shaped like
 * LLaVA-OneVision-7B. It is synthetic: it reproduces the statistical properties listed in
 * {@link Spec}, which the VidKV paper and the KV-quantization literature report for such models, and
 * nothing else. It does not capture real semantics, real attention sinks, layer-to-layer structure,
 * the exact outlier statistics of any checkpoint, or anything a model would do with the question.
 *
 * <p>Sequence: {@code systemTokens} system tokens, {@code frames x tokensPerFrame} visual tokens, then
 * {@code questionTokens} text tokens; the text tokens' queries are the evaluation queries.
 */
public final class SyntheticVideoKv implements KvSource {

    /**
     * Every property is a parameter; the defaults and where they come from:
     *
     * @param shape              28 layers, 28 query heads, 4 KV heads, d = 128: Qwen2-7B, the decoder of LLaVA-OV-7B
     * @param frames             32 frames (METHOD.md section 1: ~6,300 tokens for a 32-frame clip)
     * @param tokensPerFrame     196 visual tokens per frame (LLaVA-OV's 14 x 14 pooled grid)
     * @param systemTokens       14 (the reference code's hard-coded system prefix)
     * @param questionTokens     30 (a short question)
     * @param ropeTheta          1e6 (Qwen2's rope_theta)
     * @param mrope              false = 1-D RoPE; true = Qwen2.5-VL M-RoPE, the 64 frequency pairs split
     *                           16/24/24 over time/height/width
     * @param outlierChannels    8 persistent outlier channels per KV head in the pre-RoPE keys (KIVI and
     *                           KVQuant report a few fixed outlier channels)
     * @param outlierScale       6x the median channel magnitude
     * @param valueTokenSigma    0.8: log-normal spread of value magnitudes along tokens
     * @param valueChannelSigma  0.2: spread across channels (smaller: values vary more along tokens)
     * @param frameSimilarity    0.8: correlation of a visual token with the same spatial position one
     *                           frame earlier (period tokensPerFrame)
     * @param salientFraction    0.1 of the visual tokens are the ones the question is about
     * @param queryFocus         6.0: the attention logit (q.k / sqrt(d)) a text query gives each of the 4
 *                           salient tokens it picks, above the rest (about half its attention goes to them)
     * @param seed               data seed
     */
    public record Spec(ModelShape shape, int frames, int tokensPerFrame, int systemTokens, int questionTokens,
                       double ropeTheta, boolean mrope, int outlierChannels, double outlierScale, double valueTokenSigma,
                       double valueChannelSigma, double frameSimilarity, double salientFraction, double queryFocus,
                       long seed) {

        public static Spec defaults() {
            return new Spec(ModelShape.QWEN2_7B, 32, 196, 14, 30, 1e6, false, 8, 6.0, 0.8, 0.2, 0.8, 0.1, 6.0, 20250320L);
        }

        public Spec withFrames(int f) {
            return new Spec(shape, f, tokensPerFrame, systemTokens, questionTokens, ropeTheta, mrope, outlierChannels,
                    outlierScale, valueTokenSigma, valueChannelSigma, frameSimilarity, salientFraction, queryFocus, seed);
        }

        public Spec withQuestionTokens(int q) {
            return new Spec(shape, frames, tokensPerFrame, systemTokens, q, ropeTheta, mrope, outlierChannels,
                    outlierScale, valueTokenSigma, valueChannelSigma, frameSimilarity, salientFraction, queryFocus, seed);
        }

        public Spec withMrope(boolean m) {
            return new Spec(shape, frames, tokensPerFrame, systemTokens, questionTokens, ropeTheta, m, outlierChannels,
                    outlierScale, valueTokenSigma, valueChannelSigma, frameSimilarity, salientFraction, queryFocus, seed);
        }

        public Spec withSeed(long s) {
            return new Spec(shape, frames, tokensPerFrame, systemTokens, questionTokens, ropeTheta, mrope, outlierChannels,
                    outlierScale, valueTokenSigma, valueChannelSigma, frameSimilarity, salientFraction, queryFocus, s);
        }

        public int visualTokens() {
            return frames * tokensPerFrame;
        }

        /** Cached tokens: system + visual (the question's tokens are the queries). */
        public int cachedTokens() {
            return systemTokens + visualTokens();
        }
    }

    private final Spec spec;

    public SyntheticVideoKv(Spec spec) {
        if (spec.shape().headDim() % 2 != 0) {
            throw new IllegalArgumentException("RoPE needs an even head dim");
        }
        this.spec = spec;
    }

    public Spec spec() {
        return spec;
    }

    @Override
    public ModelShape shape() {
        return spec.shape();
    }

    @Override
    public int tokens() {
        return spec.cachedTokens();
    }

    @Override
    public String description() {
        return "synthetic video-LLM KV (" + spec.frames() + " frames x " + spec.tokensPerFrame() + " visual tokens, "
                + spec.systemTokens() + " system + " + spec.questionTokens() + " question tokens, " + (spec.mrope() ? "M-RoPE" : "1-D RoPE")
                + ", seed " + spec.seed() + "; synthetic, see SyntheticVideoKv)";
    }

    @Override
    public Queries queries() {
        // the question tokens follow the video and see all of it (LayerData's positions are n - 1)
        return new Queries(spec.questionTokens(), spec.questionTokens(), false, "the synthetic question");
    }

    @Override
    public LayerData layer(int layer, Arena arena) {
        ModelShape shape = spec.shape();
        int d = shape.headDim(), kvh = shape.kvHeads(), n = tokens(), nq = spec.questionTokens();
        SplittableRandom rnd = new SplittableRandom(spec.seed() * 1_000_003L + layer);
        MemorySegment keys = arena.allocate((long) n * kvh * d * 4, 64);
        MemorySegment values = arena.allocate((long) n * kvh * d * 4, 64);
        MemorySegment queries = arena.allocate((long) nq * shape.queryHeads() * d * 4, 64);
        boolean[] salient = new boolean[n];
        int first = spec.systemTokens();
        for (int i = first; i < first + spec.visualTokens(); i++) {
            salient[i] = rnd.nextDouble() < spec.salientFraction();
        }
        float[] pre = new float[d];
        float[] prevFrame = new float[spec.tokensPerFrame() * d];
        for (int h = 0; h < kvh; h++) {
            // Persistent per-channel scale and offset: a few outlier channels.
            double[] chScale = new double[d], chBias = new double[d], vScale = new double[d];
            for (int c = 0; c < d; c++) {
                chScale[c] = 0.7 + 0.6 * rnd.nextDouble();
                chBias[c] = 0.3 * rnd.nextGaussian();
                vScale[c] = Math.exp(spec.valueChannelSigma() * rnd.nextGaussian());
            }
            for (int o = 0; o < spec.outlierChannels(); o++) {
                int c = rnd.nextInt(d);
                chScale[c] = spec.outlierScale() * (0.8 + 0.4 * rnd.nextDouble());
                chBias[c] = spec.outlierScale() * rnd.nextGaussian();
            }
            double rho = spec.frameSimilarity(), fresh = Math.sqrt(1 - rho * rho);
            for (int t = 0; t < n; t++) {
                boolean visual = t >= first && t < first + spec.visualTokens();
                int inFrame = visual ? (t - first) % spec.tokensPerFrame() : 0;
                boolean repeat = visual && t - first >= spec.tokensPerFrame();
                for (int c = 0; c < d; c++) {
                    float z = (float) rnd.nextGaussian();
                    if (repeat) { // same spatial position, previous frame
                        z = (float) (rho * prevFrame[inFrame * d + c] + fresh * z);
                    }
                    if (visual) {
                        prevFrame[inFrame * d + c] = z;
                    }
                    pre[c] = (float) (chBias[c] + chScale[c] * z);
                }
                rope(pre, positions(t), d);
                long base = ((long) t * kvh + h) * d;
                MemorySegment.copy(pre, 0, keys, ValueLayout.JAVA_FLOAT, base * 4, d);
                double tokenScale = Math.exp(spec.valueTokenSigma() * rnd.nextGaussian());
                for (int c = 0; c < d; c++) {
                    values.setAtIndex(ValueLayout.JAVA_FLOAT, base + c, (float) (tokenScale * vScale[c] * rnd.nextGaussian()));
                }
            }
        }
        // Text-question queries: each aligns with the token-specific part (key minus the head's mean
        // key) of a few salient tokens' post-RoPE keys, so those tokens get a logit of about
        // queryFocus above the rest whatever the shared outlier-channel offsets are.
        int[] positions = new int[nq];
        int[] salientIdx = java.util.stream.IntStream.range(0, n).filter(i -> salient[i]).toArray();
        double[][] meanKey = new double[kvh][d];
        double[][] varKey = new double[kvh][d];
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < kvh; h++) {
                for (int c = 0; c < d; c++) {
                    meanKey[h][c] += keys.getAtIndex(ValueLayout.JAVA_FLOAT, ((long) t * kvh + h) * d + c) / n;
                }
            }
        }
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < kvh; h++) {
                for (int c = 0; c < d; c++) {
                    double x = keys.getAtIndex(ValueLayout.JAVA_FLOAT, ((long) t * kvh + h) * d + c) - meanKey[h][c];
                    varKey[h][c] += x * x / n;
                }
            }
        }
        for (int i = 0; i < nq; i++) {
            positions[i] = n - 1; // the question follows the video; all cached tokens are visible
            for (int qh = 0; qh < shape.queryHeads(); qh++) {
                int kv = qh / shape.queriesPerKvHead();
                double[] q = new double[d];
                int picks = salientIdx.length == 0 ? 0 : 4;
                for (int p = 0; p < picks; p++) {
                    int s = salientIdx[rnd.nextInt(salientIdx.length)];
                    // whitened direction: the outlier channels' variance does not drown the match
                    double[] dir = new double[d];
                    double norm = 1e-9;
                    for (int c = 0; c < d; c++) {
                        double x = keys.getAtIndex(ValueLayout.JAVA_FLOAT, ((long) s * kvh + kv) * d + c) - meanKey[kv][c];
                        dir[c] = x / (varKey[kv][c] + 1e-6);
                        norm += dir[c] * x;
                    }
                    for (int c = 0; c < d; c++) {
                        q[c] += spec.queryFocus() * Math.sqrt(d) * dir[c] / norm;
                    }
                }
                for (int c = 0; c < d; c++) {
                    queries.setAtIndex(ValueLayout.JAVA_FLOAT, ((long) i * shape.queryHeads() + qh) * d + c,
                            (float) (q[c] + 0.05 * rnd.nextGaussian()));
                }
            }
        }
        return new LayerData(layer, n, keys, values, nq, queries, positions, salient);
    }

    /** (time, height, width) positions of token t: visual tokens on their frame grid, others on a line. */
    private int[] positions(int t) {
        int first = spec.systemTokens();
        if (!spec.mrope() || t < first || t >= first + spec.visualTokens()) {
            return new int[]{t, t, t};
        }
        int v = t - first;
        int side = (int) Math.round(Math.sqrt(spec.tokensPerFrame()));
        int inFrame = v % spec.tokensPerFrame();
        return new int[]{first + v / spec.tokensPerFrame(), inFrame / side, inFrame % side};
    }

    /**
     * Rotates pairs (i, i + d/2) by position * theta^(-2i/d) ("rotate half", as HF Qwen2). With M-RoPE
     * the 64 frequency pairs (d = 128) are split 16/24/24 over the time/height/width positions,
     * scaled to d/2 pairs for other head dims.
     */
    private void rope(float[] x, int[] pos, int d) {
        int half = d / 2;
        int tEnd = half / 4, hEnd = tEnd + (half * 3) / 8;
        for (int i = 0; i < half; i++) {
            int p = !spec.mrope() ? pos[0] : i < tEnd ? pos[0] : i < hEnd ? pos[1] : pos[2];
            double angle = p * Math.pow(spec.ropeTheta(), -2.0 * i / d);
            double c = Math.cos(angle), s = Math.sin(angle);
            float a = x[i], b = x[i + half];
            x[i] = (float) (a * c - b * s);
            x[i + half] = (float) (b * c + a * s);
        }
    }
}
