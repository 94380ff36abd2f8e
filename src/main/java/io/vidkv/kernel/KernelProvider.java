package io.vidkv.kernel;

import io.vidkv.KeySpec;
import io.vidkv.LayerConfig;
import io.vidkv.QuantAxis;
import io.vidkv.ValueSpec;
import io.vidkv.codec.EncodeBodies;
import io.vidkv.codec.EncodeMath;
import io.vidkv.codec.KeyCodec;
import io.vidkv.codec.PanamaEncodeMath;
import io.vidkv.codec.ScalarEncodeMath;
import io.vidkv.codec.TernaryTokenCodec;
import io.vidkv.codec.TernaryValueCodec;
import io.vidkv.codec.UniformCodec;
import io.vidkv.codec.ValueCodec;
import io.vidkv.codec.VidkvKeyCodec;

/**
 * Picks the kernels once, the way Lucene's {@code VectorizationProvider} does: the body
 * ({@link PanamaKernelMath} when the Vector API is usable and the platform has 256-bit vectors,
 * else {@link ScalarKernelMath}) once per process, and the layout family's kernels once per layer
 * config. Nothing is decided per block.
 */
final class KernelProvider {

    /** The body chosen for this process. */
    static final KernelMath MATH = VectorSupport.ENABLED && Panama.available() ? Panama.create() : new ScalarKernelMath();

    /** The encoders' body for this process, by the same rule (installed for the codecs, {@link EncodeBodies}). */
    static final EncodeMath ENCODE = VectorSupport.ENABLED && Panama.available() ? Panama.encode() : new ScalarEncodeMath();

    static {
        EncodeBodies.install(ENCODE);
    }

    private KernelProvider() {
    }

    static KeyKernel keys(KernelMath math, LayerConfig lc, KeyCodec codec, int headDim) {
        int g = lc.groupSize();
        return switch (lc.keys().kind()) {
            case FP16 -> new DenseKernel.Fp16Keys(math, g, headDim);
            case UNIFORM -> lc.keys().axis() == QuantAxis.PER_CHANNEL
                    ? new UniformKernel.Keys(math, (UniformCodec) codec, g, headDim)
                    : new DenseKernel.DequantizedKeys(math, codec, g, headDim);
            case VIDKV -> new VidkvKernel.Keys(math, (VidkvKeyCodec) codec, g, headDim);
            case REFERENCE -> new DenseKernel.DequantizedKeys(math, codec, g, headDim);
        };
    }

    static ValueKernel values(KernelMath math, LayerConfig lc, ValueCodec codec, int headDim) {
        int g = lc.groupSize();
        return switch (lc.values().kind()) {
            case FP16 -> new DenseKernel.Fp16Values(math, g, headDim);
            case UNIFORM -> new UniformKernel.Values(math, (UniformCodec) codec, g, headDim);
            case TERNARY -> lc.values().axis() == QuantAxis.PER_TOKEN
                    ? new VidkvKernel.TernaryTokenValues(math, (TernaryTokenCodec) codec, g, headDim)
                    : new VidkvKernel.TernaryValues(math, (TernaryValueCodec) codec, g, headDim);
            case REFERENCE -> new DenseKernel.DequantizedValues(math, codec, g, headDim);
        };
    }

    /**
     * How prefill writes the layer's key blocks into its native tile: VidKV keys with G = 32 and a
     * frozen split from their bit rows ({@link VidkvKernel.KeyTile32}), any other layout through
     * its codec's {@link KeyCodec#decodeRows}.
     */
    static KeyTile keyTile(KernelMath math, LayerConfig lc, KeyCodec codec, int headDim) {
        if (lc.keys().kind() == KeySpec.Kind.VIDKV && lc.groupSize() == 32 && !codec.rowSpacePerBlock()) {
            return new VidkvKernel.KeyTile32(math, (VidkvKeyCodec) codec, headDim);
        }
        return new KeyTile.Decoded(codec, lc.groupSize(), headDim);
    }

    /**
     * How prefill writes the layer's value blocks into its native tile: ternary BASE3 values with
     * G = 32, per channel and no protected tokens from their trits ({@link VidkvKernel.TernaryTile32}), any other
     * layout through its codec's decoder.
     */
    static ValueTile valueTile(KernelMath math, LayerConfig lc, ValueCodec codec, int headDim) {
        if (lc.values().kind() == ValueSpec.Kind.TERNARY && lc.values().axis() == QuantAxis.PER_CHANNEL
                && lc.groupSize() == 32 && headDim % 8 == 0) {
            TernaryValueCodec tc = (TernaryValueCodec) codec;
            if (tc.layout().base3() && !tc.layout().protection()) {
                return new VidkvKernel.TernaryTile32(math, tc, headDim);
            }
        }
        return new ValueTile.Decoded(codec, lc.groupSize(), headDim);
    }

    /** Isolated so that the Vector API classes are loaded only when the module is present. */
    private static final class Panama {
        static boolean available() {
            return PanamaKernelMath.available();
        }

        static KernelMath create() {
            return new PanamaKernelMath();
        }

        static EncodeMath encode() {
            return new PanamaEncodeMath();
        }
    }
}
