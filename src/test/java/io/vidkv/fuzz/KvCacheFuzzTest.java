package io.vidkv.fuzz;

import io.vidkv.internal.CacheAccess;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.vidkv.CacheConfig;
import io.vidkv.CapacityExceededException;
import io.vidkv.CapacityPolicy;
import io.vidkv.internal.HeadStream;
import io.vidkv.InputType;
import io.vidkv.KeySpec;
import io.vidkv.KvCache;
import io.vidkv.LayerConfig;
import io.vidkv.ModelShape;
import io.vidkv.ParallelRunner;
import io.vidkv.Preset;
import io.vidkv.ValueSpec;
import io.vidkv.codec.HeadState;
import io.vidkv.MetadataFormat;
import io.vidkv.kernel.DecodeAttention;
import io.vidkv.kernel.PrefillAttention;
import io.vidkv.nativelib.Dnnl;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Collections;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A small cache (1-2 layers, 1-3 KV heads, 1-71 query heads per KV head, d = 8..128, any preset,
 * optionally smaller G, R and calibration, capacity policy REJECT or EVICT_OLDEST) driven by up to 8 fuzzed operations: appends of fuzzed
 * token counts and input types whose values mix scaled Gaussians, all-equal groups and patched
 * specials (NaN, +-Inf, denormals, -0.0, the FP16 limit, huge magnitudes, raw bits), protection of
 * positions, decode attention and prefill attention with fuzzed queries and positions.
 *
 * <p>Each operation's outcome is predicted from the documented failure policy and must match
 * exactly: a rejected call ({@link IllegalArgumentException}, {@link IllegalStateException},
 * {@link CapacityExceededException}) leaves every byte of the cache as it was; an accepted append
 * stores the newest tokens exactly in the residual window; an accepted attention gives finite
 * outputs inside the per-channel range of the visible (dequantized) values, as a softmax-weighted
 * mean must. Corpus: {@code src/test/resources/io/vidkv/fuzz/KvCacheFuzzTestInputs/appendAndAttend}.
 */
class KvCacheFuzzTest {

    static final float[] SPECIALS = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f, 0f, Float.MIN_VALUE,
            Float.MIN_NORMAL, 65504f, -65504f, 65505f, 65520f, 1e30f, -Float.MAX_VALUE, 1e-8f, 3e38f, 1f};
    static final float[] SCALES = {1f, 1e-3f, 100f, 6e4f, 1e-40f, 1e30f, 0f, 65504f};
    /** Query heads per KV head: small ones, Qwen2's 7, and multi-query shapes wider than 2 x G. */
    static final int[] GQ = {1, 2, 3, 4, 7, 24, 32, 71};
    static final float[] QUERY_SCALES = {1f, 1e-3f, 30f, 1e4f, 0f, 1e-40f};
    /** Attention positions range over [0, POSITION_SPAN x capacity): evicting sequences go past the capacity. */
    static final int POSITION_SPAN = 8;

    private static Dnnl dnnl;
    private static ParallelRunner runner;

    private static synchronized Dnnl dnnl() {
        if (dnnl == null) {
            dnnl = Dnnl.create();
        }
        return dnnl;
    }

    private static synchronized ParallelRunner runner() {
        if (runner == null) {
            runner = new ParallelRunner(2);
        }
        return runner;
    }

    @FuzzTest(maxDuration = "3m")
    void appendAndAttend(byte[] bytes) {
        FuzzInput in = new FuzzInput(bytes);
        int layers = 1 + in.below(2), kvHeads = 1 + in.below(3), gq = GQ[in.below(GQ.length)], d = 8 * (1 + in.below(16));
        ModelShape shape = new ModelShape(layers, kvHeads * gq, kvHeads, d);
        LayerConfig lc = in.pick(Preset.values()).layerConfig();
        int tweaks = in.u8();
        if ((tweaks & 1) != 0) {
            lc = lc.withGroupSize(8 * (1 + in.below(8)));
        }
        if ((tweaks & 2) != 0) {
            lc = lc.withResidual(in.below(48));
        }
        if ((tweaks & 4) != 0) {
            lc = lc.withCalibrationGroups(1 + in.below(3));
        }
        boolean parallel = (tweaks & 8) != 0;
        int capacity = 1 + in.below(1024);
        int pageBytes = 4096 * (1 + in.below(16));
        CapacityPolicy policy = (tweaks & 16) != 0 ? CapacityPolicy.evictOldest(capacity) : new CapacityPolicy(capacity);
        CacheConfig config = new CacheConfig(Collections.nCopies(layers, lc), pageBytes, policy);
        KvCache created;
        try {
            created = KvCache.create(shape, config, parallel ? runner() : null);
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().contains("does not fit a page"), e.getMessage());
            return;
        }
        Run run = new Run(in, created, shape, lc, parallel);
        try (KvCache cache = created; Arena arena = parallel ? Arena.ofShared() : Arena.ofConfined();
             DecodeAttention decode = new DecodeAttention(cache, parallel ? runner() : null)) {
            run.arena = arena;
            run.decode = decode;
            for (int op = 0; op < 8 && !in.exhausted(); op++) {
                switch (in.below(4)) {
                    case 0 -> run.append();
                    case 1 -> run.protect();
                    case 2 -> run.decode();
                    default -> run.prefill();
                }
            }
        }
    }

    /** One fuzzed sequence of operations on one cache. */
    private static final class Run {
        final FuzzInput in;
        final KvCache cache;
        final ModelShape shape;
        final LayerConfig lc;
        final boolean parallel;
        final boolean fp16Range;
        final int capacity;
        final boolean evicts;
        Arena arena;
        DecodeAttention decode;

        Run(FuzzInput in, KvCache cache, ModelShape shape, LayerConfig lc, boolean parallel) {
            this.in = in;
            this.cache = cache;
            this.shape = shape;
            this.lc = lc;
            this.parallel = parallel;
            this.capacity = cache.config().capacity().maxTokens();
            this.evicts = cache.config().capacity().evicts();
            // README, failure policy: presets that store anything in FP16 reject magnitudes above 65504
            // (COMPACT8 metadata has FP16 super-scales)
            this.fp16Range = lc.keys().kind() == KeySpec.Kind.FP16 || lc.values().kind() == ValueSpec.Kind.FP16
                    || lc.metadata() == MetadataFormat.FP16 || lc.metadata() == MetadataFormat.COMPACT8;
        }

        void append() {
            int layer = in.below(shape.layers() + 1); // == layers: out of range
            int sel = in.u16();
            int n = sel == 0xFFFF ? -1 : sel % (capacity + 64);
            InputType type = in.pick(InputType.values());
            long elements = (long) Math.max(n, 0) * shape.tokenElements();
            MemorySegment keys = arena.allocate(Math.max(1, elements * type.bytes()));
            MemorySegment values = arena.allocate(Math.max(1, elements * type.bytes()));
            fill(keys, elements, type);
            fill(values, elements, type);

            Class<? extends RuntimeException> expected = null;
            if (layer >= shape.layers() || n < 0) {
                expected = IllegalArgumentException.class;
            } else if (n > 0 && (long) cache.retainedTokenCount(layer) + n > capacity
                    && (!evicts || (long) CacheAccess.stream(cache, layer, 0).windowCount() + n > capacity)) {
                // REJECT: past the capacity; EVICT_OLDEST: even evicting every block leaves no room
                expected = CapacityExceededException.class;
            } else if (!acceptable(keys, elements, type) || !acceptable(values, elements, type)) {
                expected = IllegalArgumentException.class;
            }
            byte[] before = snapshot(cache);
            int tokensBefore = layer < shape.layers() ? cache.tokenCount(layer) : 0;
            if (expected != null) {
                RuntimeException e = assertThrows(expected, () -> cache.append(layer, keys, values, n, type),
                        "append of " + n + " tokens to layer " + layer + " (" + tokensBefore + " of " + capacity + ")");
                assertTrue(e.getMessage() != null && e.getMessage().contains("layer " + layer), e.getMessage());
                assertArrayEquals(before, snapshot(cache), "a rejected append changed the cache: " + e.getMessage());
                return;
            }
            int firstBefore = cache.firstRetainedToken(layer);
            cache.append(layer, keys, values, n, type);
            assertEquals(tokensBefore + n, cache.tokenCount(layer));
            assertTrue(cache.retainedTokenCount(layer) <= capacity, "retained past the capacity");
            assertTrue(cache.firstRetainedToken(layer) >= firstBefore, "eviction moved backwards");
            if (!evicts) {
                assertEquals(0, cache.firstRetainedToken(layer), "REJECT never evicts");
            }
            // the newest tokens sit in the residual window exactly as given
            for (int h = 0; h < shape.kvHeads(); h++) {
                HeadStream hs = CacheAccess.stream(cache, layer, h);
                assertEquals(cache.firstRetainedToken(layer), hs.firstPosition());
                assertEquals(cache.tokenCount(layer), hs.firstPosition() + hs.blockCount() * lc.groupSize() + hs.windowCount());
                int m = Math.min(n, hs.windowCount());
                for (int i = 0; i < m; i++) {
                    int j = hs.windowCount() - m + i;
                    long slot = (long) hs.windowSlot(j) * shape.headDim();
                    long src = ((long) (n - m + i) * shape.kvHeads() + h) * shape.headDim();
                    for (int c = 0; c < shape.headDim(); c++) {
                        assertEquals(Float.floatToRawIntBits(type.get(keys, src + c)),
                                Float.floatToRawIntBits(hs.windowKeys(j).getAtIndex(ValueLayout.JAVA_FLOAT, slot + c)), "window key");
                        assertEquals(Float.floatToRawIntBits(type.get(values, src + c)),
                                Float.floatToRawIntBits(hs.windowValues(j).getAtIndex(ValueLayout.JAVA_FLOAT, slot + c)), "window value");
                    }
                }
            }
        }

        private boolean acceptable(MemorySegment seg, long elements, InputType type) {
            for (long i = 0; i < elements; i++) {
                float v = type.get(seg, i);
                if (!Float.isFinite(v) || (fp16Range && Math.abs(v) > 65504f)) {
                    return false;
                }
            }
            return true;
        }

        /** Values: a pattern (Gaussian, all equal, constant per channel, alternating) times a scale, then patches. */
        private void fill(MemorySegment seg, long elements, InputType type) {
            int mode = in.below(4);
            float scale = SCALES[in.below(SCALES.length)];
            SplittableRandom rnd = new SplittableRandom(in.u16());
            float constant = SPECIALS[in.below(SPECIALS.length)];
            float[] perChannel = new float[shape.headDim()];
            for (int c = 0; c < perChannel.length; c++) {
                perChannel[c] = (float) rnd.nextGaussian() * scale;
            }
            for (long i = 0; i < elements; i++) {
                float v = switch (mode) {
                    case 0 -> (float) rnd.nextGaussian() * scale;
                    case 1 -> Float.isFinite(constant) ? constant : scale;
                    case 2 -> perChannel[(int) (i % shape.headDim())];
                    default -> (i & 1) == 0 ? scale : -scale;
                };
                put(seg, i, v, type);
            }
            int patches = in.below(4);
            for (int p = 0; p < patches && elements > 0; p++) {
                long i = Math.floorMod(in.i32(), elements);
                put(seg, i, in.bool() ? SPECIALS[in.below(SPECIALS.length)] : in.f32(), type);
            }
        }

        private static void put(MemorySegment seg, long i, float v, InputType type) {
            switch (type) {
                case F32 -> seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
                case F16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16(v));
                case BF16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) (Float.floatToRawIntBits(v) >>> 16));
            }
        }

        void protect() {
            int pos = in.below(capacity + 2) - 1;
            int maxQuantized = 0;
            for (int l = 0; l < shape.layers(); l++) {
                maxQuantized = Math.max(maxQuantized, cache.quantizedTokenCount(l));
            }
            byte[] before = snapshot(cache);
            boolean stored = false;
            for (int l = 0; l < shape.layers(); l++) {
                stored |= cache.layerConfig(l).values().protection();
            }
            if (!stored) { // no layer keeps protected tokens: marking them would be a silent no-op
                assertThrows(IllegalStateException.class, () -> cache.protect(pos));
            } else if (pos < 0 || pos >= capacity) {
                assertThrows(IllegalArgumentException.class, () -> cache.protect(pos));
            } else if (pos < maxQuantized) {
                assertThrows(IllegalStateException.class, () -> cache.protect(pos));
            } else {
                cache.protect(pos);
                assertTrue(cache.isProtected(pos));
                return;
            }
            assertArrayEquals(before, snapshot(cache), "a rejected protect changed the cache");
        }

        private MemorySegment queries(int tokens) {
            long n = (long) tokens * shape.queryHeads() * shape.headDim();
            MemorySegment q = arena.allocate(n * 4);
            float scale = QUERY_SCALES[in.below(QUERY_SCALES.length)];
            SplittableRandom rnd = new SplittableRandom(in.u16());
            for (long i = 0; i < n; i++) {
                q.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian() * scale);
            }
            int patches = in.below(3);
            for (int p = 0; p < patches; p++) {
                q.setAtIndex(ValueLayout.JAVA_FLOAT, Math.floorMod(in.i32(), n), in.bool() ? SPECIALS[in.below(SPECIALS.length)] : in.f32());
            }
            return q;
        }

        private static boolean finite(MemorySegment q) {
            for (long i = 0; i < q.byteSize() / 4; i++) {
                if (!Float.isFinite(q.getAtIndex(ValueLayout.JAVA_FLOAT, i))) {
                    return false;
                }
            }
            return true;
        }

        void decode() {
            int layer = in.below(shape.layers());
            int sel = in.u8();
            int lastVisible = sel < 128 ? Integer.MAX_VALUE : in.below(POSITION_SPAN * capacity + 1) - 1;
            MemorySegment q = queries(1);
            MemorySegment out = arena.allocate(q.byteSize());
            int tokens = cache.tokenCount(layer);
            byte[] before = snapshot(cache);
            if (tokens == 0 || lastVisible < 0 || lastVisible < cache.firstRetainedToken(layer)) {
                assertThrows(IllegalStateException.class, () -> decode.attend(layer, q, out, lastVisible));
            } else if (!finite(q)) {
                assertThrows(IllegalArgumentException.class, () -> decode.attend(layer, q, out, lastVisible));
            } else {
                decode.attend(layer, q, out, lastVisible);
                checkAttention(layer, out, 1, lastVisible, "decode, last visible " + lastVisible);
            }
            assertArrayEquals(before, snapshot(cache), "attention changed the cache");
        }

        void prefill() {
            int layer = in.below(shape.layers());
            int n = 1 + in.below(8);
            int first = in.below(POSITION_SPAN * capacity + 8);
            int tile = 64 * (1 + in.below(4));
            MemorySegment q = queries(n);
            MemorySegment out = arena.allocate(q.byteSize());
            int tokens = cache.tokenCount(layer);
            byte[] before = snapshot(cache);
            try (PrefillAttention prefill = io.vidkv.kernel.TestPrefills.on(dnnl(), cache, 8, tile)) {
                if (tokens == 0 || first < cache.firstRetainedToken(layer)) {
                    assertThrows(IllegalStateException.class, () -> prefill.attend(layer, q, out, n, first));
                } else if (tile % lc.groupSize() != 0 || !finite(q)) {
                    assertThrows(IllegalArgumentException.class, () -> prefill.attend(layer, q, out, n, first));
                } else {
                    prefill.attend(layer, q, out, n, first);
                    checkAttention(layer, out, n, first, "prefill of " + n + " from " + first + ", tile " + tile);
                }
            }
            assertArrayEquals(before, snapshot(cache), "attention changed the cache");
        }

        /**
         * Output of query token i (position lastVisible0 + i) of every query head: finite, and per
         * channel within [min, max] of the values of the visible tokens of its KV head, up to
         * float32 rounding of the weighted mean.
         */
        private void checkAttention(int layer, MemorySegment out, int n, int lastVisible0, String what) {
            int d = shape.headDim(), gq = shape.queriesPerKvHead(), tokens = cache.tokenCount(layer);
            int kept = cache.firstRetainedToken(layer); // row t of the dequantized contents is position kept + t
            for (int kv = 0; kv < shape.kvHeads(); kv++) {
                double[][] v = io.vidkv.testing.KvData.dequantize(cache, layer, kv)[1];
                for (int i = 0; i < n; i++) {
                    int visible = (int) (Math.min(tokens, (long) lastVisible0 + i + 1) - kept);
                    double[] lo = new double[d], hi = new double[d];
                    java.util.Arrays.fill(lo, Double.POSITIVE_INFINITY);
                    java.util.Arrays.fill(hi, Double.NEGATIVE_INFINITY);
                    double maxAbs = 0;
                    for (int t = 0; t < visible; t++) {
                        for (int c = 0; c < d; c++) {
                            lo[c] = Math.min(lo[c], v[t][c]);
                            hi[c] = Math.max(hi[c], v[t][c]);
                            maxAbs = Math.max(maxAbs, Math.abs(v[t][c]));
                        }
                    }
                    double tol = 1e-3 * maxAbs + 1e-35;
                    for (int j = 0; j < gq; j++) {
                        int qh = kv * gq + j;
                        for (int c = 0; c < d; c++) {
                            float o = out.getAtIndex(ValueLayout.JAVA_FLOAT, ((long) i * shape.queryHeads() + qh) * d + c);
                            if (!Float.isFinite(o) || o < lo[c] - tol || o > hi[c] + tol) {
                                fail(what + ", layer " + layer + ", query token " + i + ", head " + qh + ", channel " + c + ": output "
                                        + o + " outside the visible values' range [" + lo[c] + ", " + hi[c] + "] (" + visible
                                        + " visible tokens, " + lc + ", " + shape + ")");
                            }
                        }
                    }
                }
            }
        }
    }

    /** Every byte the cache holds: counts, blocks, residual windows, per-head state, protected positions. */
    static byte[] snapshot(KvCache cache) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            ModelShape shape = cache.shape();
            for (int l = 0; l < shape.layers(); l++) {
                int g = cache.layerConfig(l).groupSize();
                out.writeInt(cache.tokenCount(l));
                out.writeInt(cache.quantizedTokenCount(l));
                out.writeInt(cache.firstRetainedToken(l));
                long keyBytes = CacheAccess.keyCodec(cache, l).blockBytes();
                for (int h = 0; h < shape.kvHeads(); h++) {
                    HeadStream hs = CacheAccess.stream(cache, l, h);
                    out.writeInt(hs.blockCount());
                    out.writeInt(hs.windowCount());
                    for (int b = 0; b < hs.blockCount(); b++) {
                        long end = b + 1 < hs.blockCount() && hs.page(b + 1) == hs.page(b) ? hs.offset(b + 1)
                                : hs.offset(b) + keyBytes + CacheAccess.valueCodec(cache, l).blockBytes(
                                        Long.bitCount(io.vidkv.testing.KvData.protectedMask(cache, hs.firstPosition() + b * g, g)));
                        out.write(hs.page(b).asSlice(hs.offset(b), end - hs.offset(b)).toArray(ValueLayout.JAVA_BYTE));
                    }
                    for (int j = 0; j < hs.windowCount(); j++) {
                        long base = (long) hs.windowSlot(j) * shape.headDim() * 4;
                        out.write(hs.windowKeys(j).asSlice(base, shape.headDim() * 4L).toArray(ValueLayout.JAVA_BYTE));
                        out.write(hs.windowValues(j).asSlice(base, shape.headDim() * 4L).toArray(ValueLayout.JAVA_BYTE));
                    }
                    HeadState s = hs.state();
                    out.writeBoolean(s.calibrated());
                    out.writeInt(s.calibrated() ? 1 : 0);
                    for (int o : s.keyOrder) {
                        out.writeInt(o);
                    }
                    for (float f : s.keySuper) {
                        out.writeFloat(f);
                    }
                    for (float f : s.valueSuper) {
                        out.writeFloat(f);
                    }
                }
            }
            for (int p = 0; p < cache.config().capacity().maxTokens(); p++) {
                out.writeBoolean(cache.isProtected(p));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }
}
