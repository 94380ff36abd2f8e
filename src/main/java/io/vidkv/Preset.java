package io.vidkv;


import java.util.Arrays;
import java.util.List;

/**
 * The named configurations users type. Defaults everywhere: G = 32, R = 128, gamma = 0.7,
 * p = 0.2, FP16 metadata; each is a {@link LayerConfig} that can be changed per layer.
 */
public enum Preset {
    FP16("fp16", "FP16 keys and values (no quantization): the reference for memory and speed"),
    KIVI_2("kivi-2", "KIVI: keys 2-bit per channel, values 2-bit per token"),
    VIDKV_2("vidkv-2", "keys and values 2-bit per channel"),
    VIDKV_15_2("vidkv-1.5/2", "VidKV keys 1.5-bit (50 % anomalous 2-bit, normal FFT sign bits), values 2-bit per channel"),
    VIDKV_15_158("vidkv-1.5/1.58", "VidKV keys 1.5-bit, values ternary per channel"),
    VIDKV_125_158("vidkv-1.25/1.58", "VidKV keys 1.25-bit (25 % anomalous), values ternary"),
    VIDKV_15_166_STP("vidkv-1.5/1.66-stp", "VidKV keys 1.5-bit, values ternary with 20 % protected tokens at 2 bits"),
    VIDKV_175_166_STP("vidkv-1.75/1.66-stp", "VidKV keys 1.75-bit, values ternary with 20 % protected tokens at 2 bits"),
    VIDKV_15_158_COMPACT("vidkv-1.5/1.58-compact", "vidkv-1.5/1.58 with 8-bit log scales under FP16 super-scales, G = 64"),
    VIDKV_REFERENCE("vidkv-reference-1.5/1.58", "the public reference code's behaviour: complex FFT (2n bits), {0, s} signs, "
            + "unscaled ternary (gamma 0.5) in 2-bit fields, FP16 metadata, re-quantization every 128 tokens");

    private final String id;
    private final String description;

    Preset(String id, String description) {
        this.id = id;
        this.description = description;
    }

    /** The name users type, e.g. {@code vidkv-1.5/1.58}. */
    public String id() {
        return id;
    }

    public String description() {
        return description;
    }

    public static Preset byId(String id) {
        for (Preset p : values()) {
            if (p.id.equals(id)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown preset '" + id + "'; known: " + ids());
    }

    public static List<String> ids() {
        return Arrays.stream(values()).map(Preset::id).toList();
    }

    /** The layer configuration of this preset. */
    public LayerConfig layerConfig() {
        int g = LayerConfig.DEFAULT_GROUP;
        int r = LayerConfig.DEFAULT_RESIDUAL;
        int cal = LayerConfig.DEFAULT_CALIBRATION_GROUPS;
        MetadataFormat fp16 = MetadataFormat.FP16;
        TernaryPacking packing = TernaryPacking.BASE3;
        double p = ValueSpec.DEFAULT_PROTECTED_FRACTION;
        return switch (this) {
            case FP16 -> new LayerConfig(KeySpec.fp16(), ValueSpec.fp16(), g, r, cal, fp16);
            case KIVI_2 -> new LayerConfig(KeySpec.uniform(2, QuantAxis.PER_CHANNEL),
                    ValueSpec.uniform(2, QuantAxis.PER_TOKEN), g, r, cal, fp16);
            case VIDKV_2 -> new LayerConfig(KeySpec.uniform(2, QuantAxis.PER_CHANNEL),
                    ValueSpec.uniform(2, QuantAxis.PER_CHANNEL), g, r, cal, fp16);
            case VIDKV_15_2 -> new LayerConfig(KeySpec.vidkv(1.5), ValueSpec.uniform(2, QuantAxis.PER_CHANNEL), g, r, cal, fp16);
            case VIDKV_15_158 -> new LayerConfig(KeySpec.vidkv(1.5), ValueSpec.ternary(packing), g, r, cal, fp16);
            case VIDKV_125_158 -> new LayerConfig(KeySpec.vidkv(1.25), ValueSpec.ternary(packing), g, r, cal, fp16);
            case VIDKV_15_166_STP -> new LayerConfig(KeySpec.vidkv(1.5), ValueSpec.ternaryProtected(packing, p), g, r, cal, fp16);
            case VIDKV_175_166_STP -> new LayerConfig(KeySpec.vidkv(1.75), ValueSpec.ternaryProtected(packing, p), g, r, cal, fp16);
            case VIDKV_15_158_COMPACT -> new LayerConfig(KeySpec.vidkv(1.5), ValueSpec.ternary(packing), 64, r, 2,
                    MetadataFormat.COMPACT8);
            case VIDKV_REFERENCE -> new LayerConfig(KeySpec.reference(1.5), ValueSpec.reference(), g, r, 1, fp16);
        };
    }
}
