package io.vidkv;

import io.vidkv.kernel.DecodeAttention;
import io.vidkv.testing.AttentionCheck;
import io.vidkv.testing.KvData;
import io.vidkv.testing.ReferenceBlocks;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's "Using the cache" example, compiled and run: the code between the {@code tag::}
 * markers below is what the README shows (checked verbatim by {@link #theReadmeShowsThisCode}).
 * {@link ToyModel} stands in for the model: it hands out seeded K, V, queries and embeddings and
 * keeps each attention output, which the test then checks against float64 attention over the
 * dequantized cache (and, at the last step, over an independent decoding, {@link ReferenceBlocks}).
 */
class ReadmeExampleTest {

    private static final Path SELF = Path.of("..", "src", "test", "java", "io", "vidkv", "ReadmeExampleTest.java");
    private static final Path README = Path.of("..", "README.md");

    @Test
    void theExampleRunsAndAttendsLikeFloat64OverTheStoredCodes() {
        ToyModel model = new ToyModel(new ModelShape(28, 28, 4, 128), 20261201L);
        // tag::example[]
        // JVM flags: --add-modules jdk.incubator.vector, and --enable-native-access=io.vidkv on the
        // module path (--enable-native-access=ALL-UNNAMED on the class path).
        ModelShape shape = ModelShape.QWEN2_7B;               // 28 layers, 28 query heads, 4 KV heads, d = 128
        int system = 14, visualTokens = 4 * 196, question = 24; // the prompt: system, 4 frames, question
        int promptTokens = system + visualTokens + question, maxNewTokens = 8;
        CacheConfig config = CacheConfig.of(shape, Preset.byId("vidkv-1.5/1.66-stp")) // protects 20 % of tokens
                .withCapacity(promptTokens + maxNewTokens);  // every token the sequence will ever hold
        long tokenBytes = 4L * shape.kvHeads() * shape.headDim();   // one token's K (or V): [kvHeads][d] float32
        long queryBytes = 4L * shape.queryHeads() * shape.headDim(); // one token's queries: [queryHeads][d] float32
        try (Arena arena = Arena.ofConfined();
             ParallelRunner runner = new ParallelRunner(2);
             KvCache cache = KvCache.create(shape, config, runner);
             DecodeAttention attention = new DecodeAttention(cache, runner)) {
            // Prefill. Protect the salient visual tokens first: a token's group must not be quantized yet.
            float[] saliency = TokenSaliency.meanDotWithText(model.embeddings(system, visualTokens), visualTokens,
                    model.embeddings(system + visualTokens, question), question, model.hidden());
            cache.protectBySaliency(system, saliency, 0.2);
            MemorySegment keys = arena.allocate(promptTokens * tokenBytes);   // [tokens][kvHeads][d]
            MemorySegment values = arena.allocate(promptTokens * tokenBytes);
            for (int layer = 0; layer < shape.layers(); layer++) {
                model.promptKeysValues(layer, keys, values);
                cache.append(layer, keys, values, promptTokens, InputType.F32);
            }
            // Decode: per new token and layer, append its K and V, then attend all 28 query heads.
            MemorySegment k1 = arena.allocate(tokenBytes), v1 = arena.allocate(tokenBytes);
            MemorySegment q = arena.allocate(queryBytes), out = arena.allocate(queryBytes);
            for (int step = 0; step < maxNewTokens; step++) {
                for (int layer = 0; layer < shape.layers(); layer++) {
                    model.tokenKeysValuesQueries(layer, promptTokens + step, k1, v1, q);
                    cache.append(layer, k1, v1, 1, InputType.F32);
                    attention.attend(layer, q, out);           // out: [queryHeads][d] float32
                    model.attentionOutput(layer, out);
                }
            }
        } // closing returns every page and frees the native memory
        // end::example[]

        // What the example did, checked: every output is float64 attention over the stored codes.
        assertEquals(maxNewTokens * shape.layers(), model.outputs.size());
        model.replayAndCheck(config);
        assertEquals(Math.round(0.2 * visualTokens), model.protectedTokens, "protected visual tokens");
    }

    @Test
    void theReadmeShowsThisCode() throws IOException {
        String self = Files.readString(SELF);
        int from = self.indexOf('\n', self.indexOf("// tag::example[]")) + 1;
        int to = self.lastIndexOf('\n', self.indexOf("// end::example[]"));
        List<String> lines = self.substring(from, to).lines().toList();
        int indent = lines.stream().filter(l -> !l.isBlank()).mapToInt(l -> l.length() - l.stripLeading().length()).min()
                .orElse(0);
        String snippet = lines.stream().map(l -> l.isBlank() ? "" : l.substring(indent)).collect(Collectors.joining("\n"));
        String readme = Files.readString(README);
        assertTrue(readme.contains(snippet), "README.md's \"Using the cache\" example must be exactly the code between the"
                + " tag:: markers of " + SELF + ":\n" + snippet);
        assertFalse(snippet.isBlank());
    }

    /**
     * The model's side of the example: seeded K, V, queries and input embeddings (keys with a few
     * outlier channels, as real ones have), and a record of every attention output with the query
     * that produced it, so the test can replay the same cache and check each step.
     */
    static final class ToyModel {
        final ModelShape shape;
        final long seed;
        final List<float[]> outputs = new ArrayList<>();
        final List<float[]> queries = new ArrayList<>();
        int protectedTokens;
        private float[] lastQuery;
        private int promptTokens;

        ToyModel(ModelShape shape, long seed) {
            this.shape = shape;
            this.seed = seed;
        }

        int hidden() {
            return 64;
        }

        /** [count][hidden] float32 input embeddings of positions first.., in a fresh segment. */
        MemorySegment embeddings(int first, int count) {
            SplittableRandom rnd = new SplittableRandom(seed ^ (31L * first + count));
            MemorySegment e = MemorySegment.ofArray(new float[count * hidden()]);
            for (long i = 0; i < (long) count * hidden(); i++) {
                e.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
            }
            return e;
        }

        void promptKeysValues(int layer, MemorySegment keys, MemorySegment values) {
            int tokens = (int) (keys.byteSize() / (4L * shape.kvHeads() * shape.headDim()));
            promptTokens = tokens;
            for (int t = 0; t < tokens; t++) {
                token(layer, t, keys.asSlice(4L * t * shape.kvHeads() * shape.headDim()),
                        values.asSlice(4L * t * shape.kvHeads() * shape.headDim()));
            }
        }

        void tokenKeysValuesQueries(int layer, int position, MemorySegment k1, MemorySegment v1, MemorySegment q) {
            token(layer, position, k1, v1);
            SplittableRandom rnd = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (layer + 1)) ^ (long) position << 20);
            float[] qa = new float[shape.queryHeads() * shape.headDim()];
            for (int i = 0; i < qa.length; i++) {
                qa[i] = (float) (0.3 * rnd.nextGaussian());
                q.setAtIndex(ValueLayout.JAVA_FLOAT, i, qa[i]);
            }
            lastQuery = qa;
        }

        void attentionOutput(int layer, MemorySegment out) {
            outputs.add(out.toArray(ValueLayout.JAVA_FLOAT));
            queries.add(lastQuery);
        }

        private void token(int layer, int position, MemorySegment k, MemorySegment v) {
            SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + 7919L * layer + position);
            int d = shape.headDim();
            for (int h = 0; h < shape.kvHeads(); h++) {
                for (int c = 0; c < d; c++) {
                    double outlier = c % 16 == 3 ? 6 : 1; // persistent outlier channels
                    k.setAtIndex(ValueLayout.JAVA_FLOAT, (long) h * d + c, (float) (outlier * rnd.nextGaussian()));
                    v.setAtIndex(ValueLayout.JAVA_FLOAT, (long) h * d + c, (float) rnd.nextGaussian());
                }
            }
        }

        /**
         * Rebuilds the example's cache single-threaded, step by step, and checks the recorded outputs
         * of every step of layer 0 and of every layer at the last step against float64 attention over
         * what the cache held at that step.
         */
        void replayAndCheck(CacheConfig config) {
            int steps = outputs.size() / shape.layers();
            long tokenBytes = 4L * shape.kvHeads() * shape.headDim();
            try (Arena arena = Arena.ofConfined(); KvCache cache = KvCache.create(shape, config)) {
                float[] saliency = TokenSaliency.meanDotWithText(embeddings(14, 4 * 196), 4 * 196,
                        embeddings(14 + 4 * 196, 24), 24, hidden());
                cache.protectBySaliency(14, saliency, 0.2);
                for (int t = 0; t < promptTokens; t++) {
                    protectedTokens += cache.isProtected(t) ? 1 : 0;
                }
                MemorySegment keys = arena.allocate(promptTokens * tokenBytes), values = arena.allocate(promptTokens * tokenBytes);
                for (int layer = 0; layer < shape.layers(); layer++) {
                    promptKeysValues(layer, keys, values);
                    cache.append(layer, keys, values, promptTokens, InputType.F32);
                }
                MemorySegment k1 = arena.allocate(tokenBytes), v1 = arena.allocate(tokenBytes);
                for (int step = 0; step < steps; step++) {
                    for (int layer = 0; layer < shape.layers(); layer++) {
                        token(layer, promptTokens + step, k1, v1);
                        cache.append(layer, k1, v1, 1, InputType.F32);
                        int i = step * shape.layers() + layer;
                        if (step != steps - 1 && layer != 0) {
                            continue; // every step of layer 0 and every layer of the last step: enough, and fast
                        }
                        // against the codecs' own dequantizer, and once against the independent float64
                        // decoder (slower: a float64 DFT per token)
                        AttentionCheck.check(cache, layer, MemorySegment.ofArray(queries.get(i)),
                                MemorySegment.ofArray(outputs.get(i)), Integer.MAX_VALUE,
                                step == steps - 1 && layer == 0 ? ReferenceBlocks::dequantize : KvData::dequantize,
                                AttentionCheck.rounding(4), "README example, step " + step + ", layer " + layer);
                    }
                }
            }
        }
    }
}
