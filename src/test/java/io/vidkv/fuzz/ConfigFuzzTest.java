package io.vidkv.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.vidkv.CacheConfig;
import io.vidkv.CapacityPolicy;
import io.vidkv.InputType;
import io.vidkv.KeySpec;
import io.vidkv.KvCache;
import io.vidkv.LayerConfig;
import io.vidkv.ModelShape;
import io.vidkv.Preset;
import io.vidkv.ValueSpec;
import io.vidkv.codec.KeyCodec;
import io.vidkv.MetadataFormat;
import io.vidkv.QuantAxis;
import io.vidkv.SplitMetric;
import io.vidkv.TernaryPacking;
import io.vidkv.TernaryThreshold;
import io.vidkv.ParameterFit;
import io.vidkv.codec.ValueCodec;
import io.vidkv.kernel.DecodeAttention;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Preset names and configuration records from fuzzed strings, ints, doubles and enums. Documented
 * outcomes: a value, or an {@link IllegalArgumentException}; a configuration that is accepted must
 * be usable: its codecs build, a cache of it fills past its first quantization and attends to
 * finite outputs. Corpus: {@code src/test/resources/io/vidkv/fuzz/ConfigFuzzTestInputs/<method>}.
 */
class ConfigFuzzTest {

    /** Doubles the fuzzer picks from besides raw bits. */
    private static final double[] DOUBLES = {0, 1, 1.25, 1.5, 1.75, 2, 0.5, 0.7, 0.2, -0.0, -1, 1e-300, 9.999, 10,
            Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.MIN_VALUE, Math.nextDown(1.0), Math.nextUp(2.0)};
    /** Ints the fuzzer picks from besides raw bits. */
    private static final int[] INTS = {0, 1, 2, 3, 4, 8, 16, 24, 32, 40, 56, 64, 72, 128, 4095, 4096, 65536, -1, -8,
            Integer.MAX_VALUE, Integer.MIN_VALUE, Integer.MAX_VALUE / 8 + 1, 1 << 28, 1 << 30};

    @FuzzTest(maxDuration = "1m")
    void presetById(byte[] bytes) {
        String id = new String(bytes, StandardCharsets.UTF_8);
        Preset p;
        try {
            p = Preset.byId(id);
        } catch (IllegalArgumentException e) {
            assertTrue(!Preset.ids().contains(id), "known id rejected: " + id);
            assertTrue(e.getMessage().contains("unknown preset"), e.getMessage());
            return;
        }
        assertEquals(id, p.id());
        assertSame(p, Preset.byId(p.id()));
        LayerConfig lc = p.layerConfig();
        assertTrue(lc.nominalBits() > 0 && lc.nominalBits() <= 16, "nominal bits " + lc.nominalBits());
    }

    static int anInt(FuzzInput in) {
        int b = in.u8();
        return b < 128 ? INTS[b % INTS.length] : (b < 192 ? b - 160 : in.i32());
    }

    static double aDouble(FuzzInput in) {
        int b = in.u8();
        return b < 200 ? DOUBLES[b % DOUBLES.length] : in.f64();
    }

    @FuzzTest(maxDuration = "2m")
    void layerConfig(byte[] bytes) {
        FuzzInput in = new FuzzInput(bytes);
        ModelShape shape;
        LayerConfig lc;
        CacheConfig config;
        try {
            KeySpec k = new KeySpec(in.pick(KeySpec.Kind.values()), anInt(in), in.pick(QuantAxis.values()), aDouble(in),
                    in.pick(SplitMetric.values()), in.bool(), in.bool(), ParameterFit.MIN_MAX);
            ValueSpec v = new ValueSpec(in.pick(ValueSpec.Kind.values()), anInt(in), in.pick(QuantAxis.values()), aDouble(in),
                    in.pick(TernaryPacking.values()), in.bool(), aDouble(in), TernaryThreshold.MEAN_ABS,
                    ParameterFit.MIN_MAX, 0);
            lc = new LayerConfig(k, v, anInt(in), anInt(in), anInt(in), in.pick(MetadataFormat.values()));
            shape = new ModelShape(1 + in.below(2), anInt(in), anInt(in), anInt(in));
            config = new CacheConfig(Collections.nCopies(shape.layers(), lc), anInt(in), new CapacityPolicy(anInt(in)));
            // read last, so that the committed corpus keeps its meaning for every earlier field
            TernaryThreshold threshold = in.pick(TernaryThreshold.values());
            ParameterFit keyFit = in.pick(ParameterFit.values()), valueFit = in.pick(ParameterFit.values());
            int tokenScaleBits = in.bool() ? 4 : 0;
            tokenScaleBits = tokenScaleBits == 4 && in.bool() ? 3 : tokenScaleBits; // read after, for the same reason
            if (threshold != TernaryThreshold.MEAN_ABS || keyFit != ParameterFit.MIN_MAX || valueFit != ParameterFit.MIN_MAX
                    || tokenScaleBits != 0) {
                lc = lc.withKeys(k.withFit(keyFit)).withValues(v.withThreshold(threshold).withFit(valueFit)
                        .withTokenScaleBits(tokenScaleBits));
                config = new CacheConfig(Collections.nCopies(shape.layers(), lc), config.pageBytes(), config.capacity());
            }
        } catch (IllegalArgumentException e) {
            return; // documented rejection of a field
        }
        assertTrue(lc.groupSize() >= 8 && lc.groupSize() <= 64 && lc.groupSize() % 8 == 0);
        assertEquals((long) lc.residual() + (long) lc.calibrationGroups() * lc.groupSize(), lc.windowCapacity(),
                "window capacity overflows for R = " + lc.residual() + ", C = " + lc.calibrationGroups());
        assertTrue(shape.headDim() <= ModelShape.MAX_HEAD_DIM, "ModelShape accepted head dim " + shape.headDim());
        KeyCodec kc;
        ValueCodec vc;
        try {
            kc = io.vidkv.codec.Codecs.keys(lc, shape.headDim());
            vc = io.vidkv.codec.Codecs.values(lc, shape.headDim());
        } catch (IllegalArgumentException e) {
            return; // e.g. 5-bit uniform codes, gamma out of range
        }
        double nominal = lc.nominalBits();
        assertTrue(nominal > 0 && nominal <= 16, "nominal bits " + nominal + " of an accepted config " + lc);
        assertTrue(kc.blockBytes() > 0 && vc.blockBytes(0) > 0);
        // a cache of it is usable, when it is small enough to build in a fuzz iteration
        long windowBytes = (long) lc.windowCapacity() * shape.headDim() * shape.kvHeads() * shape.layers() * 8;
        if (windowBytes > (8 << 20) || shape.queryHeads() > 64 || config.capacity().maxTokens() > (1 << 16)
                || config.pageBytes() > (1 << 20)) {
            return;
        }
        try (KvCache cache = createOrNull(shape, config)) {
            if (cache == null) {
                return;
            }
            int tokens = (int) Math.min(config.capacity().maxTokens(), lc.windowCapacity() + 2L * lc.groupSize());
            SplittableRandom rnd = new SplittableRandom(in.i64());
            try (Arena arena = Arena.ofConfined(); DecodeAttention attention = new DecodeAttention(cache, null)) {
                long n = (long) tokens * shape.tokenElements();
                MemorySegment keys = arena.allocate(n * 4), values = arena.allocate(n * 4);
                for (long i = 0; i < n; i++) {
                    keys.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
                    values.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
                }
                cache.append(0, keys, values, tokens, InputType.F32);
                assertEquals(tokens, cache.tokenCount(0));
                MemorySegment q = arena.allocate((long) shape.queryHeads() * shape.headDim() * 4);
                MemorySegment out = arena.allocate(q.byteSize());
                for (long i = 0; i < q.byteSize() / 4; i++) {
                    q.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
                }
                attention.attend(0, q, out);
                for (long i = 0; i < out.byteSize() / 4; i++) {
                    float o = out.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                    assertTrue(Float.isFinite(o) && Math.abs(o) < 10, "output " + i + " = " + o + " for " + lc + ", " + shape);
                }
            }
        }
    }

    /** The cache, or null when the config is rejected at creation (a block larger than a page). */
    private static KvCache createOrNull(ModelShape shape, CacheConfig config) {
        try {
            return KvCache.create(shape, config);
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().contains("does not fit a page"), e.getMessage());
            return null;
        }
    }
}
