package io.vidkv.codec;

import io.vidkv.KeySpec;
import io.vidkv.LayerConfig;
import io.vidkv.ParameterFit;
import io.vidkv.QuantAxis;
import io.vidkv.TernaryPacking;
import io.vidkv.TernaryThreshold;
import io.vidkv.ValueSpec;

/** The key and value codec a layer configuration names: the one place a {@link LayerConfig} becomes codecs. */
public final class Codecs {

    private Codecs() {
    }

    /** The key codec of {@code config} for heads of {@code headDim} channels. */
    public static KeyCodec keys(LayerConfig config, int headDim) {
        KeySpec k = config.keys();
        int g = config.groupSize();
        MetadataCodes meta = MetadataCodes.of(config.metadata());
        return switch (k.kind()) {
            case FP16 -> new Fp16Codec(g, headDim);
            case UNIFORM -> new UniformCodec(k.bits(), k.axis(), true, meta, g, headDim, k.fit() == ParameterFit.LEAST_SQUARES);
            case VIDKV -> new VidkvKeyCodec(k.keyBits(), k.split(), k.spectral(), k.splitPerGroup(), meta, g, headDim);
            case REFERENCE -> new ReferenceKeyCodec(k.keyBits(), g, headDim);
        };
    }

    /** The value codec of {@code config} for heads of {@code headDim} channels. */
    public static ValueCodec values(LayerConfig config, int headDim) {
        ValueSpec v = config.values();
        int g = config.groupSize();
        MetadataCodes meta = MetadataCodes.of(config.metadata());
        if (v.tokenScaleBits() != 0 && !(v.kind() == ValueSpec.Kind.TERNARY && v.axis() == QuantAxis.PER_TOKEN)) {
            throw new IllegalArgumentException("token scales of " + v.tokenScaleBits() + " bits need ternary values per token, got " + v.kind() + " values "
                    + v.axis());
        }
        return switch (v.kind()) {
            case FP16 -> new Fp16Codec(g, headDim);
            case UNIFORM -> new UniformCodec(v.bits(), v.axis(), false, meta, g, headDim, v.fit() == ParameterFit.LEAST_SQUARES);
            case TERNARY -> v.axis() == QuantAxis.PER_TOKEN
                    ? new TernaryTokenCodec(v.gamma(), v.threshold() == TernaryThreshold.LEAST_SQUARES,
                            v.packing() == TernaryPacking.BASE3, v.protection(), v.tokenScaleBits(), meta, g, headDim)
                    : new TernaryValueCodec(v.gamma(), v.threshold() == TernaryThreshold.LEAST_SQUARES, v.packing(),
                            v.protection(), meta, g, headDim);
            case REFERENCE -> new ReferenceValueCodec(g, headDim);
        };
    }
}
