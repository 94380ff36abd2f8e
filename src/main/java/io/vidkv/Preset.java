package io.vidkv;


import java.util.Arrays;
import java.util.List;

/**
 * The named configurations users type. Defaults everywhere: G = 32, R = 128, gamma = 0.7,
 * p = 0.2, FP16 metadata; each is a {@link LayerConfig} that can be changed per layer.
 * A preset becomes a cache configuration with {@link CacheConfig#of(ModelShape, Preset)}; its
 * {@link #layerConfig()} is a {@link KeySpec} and a {@link ValueSpec} plus G, R, C and the
 * {@link MetadataFormat}. Bits in the ids are nominal, keys/values (e.g. 1.5/1.58).
 */
public enum Preset {
    /** {@code fp16}: FP16 keys and values, no quantization; the baseline for memory and speed. */
    FP16("fp16", "FP16 keys and values (no quantization): the reference for memory and speed"),
    /** {@code kivi-2}: keys 2-bit per channel, values 2-bit per token (KIVI's choice for text LLMs). */
    KIVI_2("kivi-2", "KIVI: keys 2-bit per channel, values 2-bit per token"),
    /** {@code vidkv-2}: keys and values 2-bit per channel (the paper's VidKV 2/2). */
    VIDKV_2("vidkv-2", "keys and values 2-bit per channel"),
    /** {@code vidkv-1.5/2}: VidKV keys at 1.5 bits (50 % anomalous channels), values 2-bit per channel. */
    VIDKV_15_2("vidkv-1.5/2", "VidKV keys 1.5-bit (50 % anomalous 2-bit, normal FFT sign bits), values 2-bit per channel"),
    /** {@code vidkv-1.5/1.58}: VidKV keys at 1.5 bits, ternary values per channel, base-3 packed. */
    VIDKV_15_158("vidkv-1.5/1.58", "VidKV keys 1.5-bit, values ternary per channel"),
    /** {@code vidkv-1.25/1.58}: VidKV keys at 1.25 bits (25 % anomalous), ternary values. */
    VIDKV_125_158("vidkv-1.25/1.58", "VidKV keys 1.25-bit (25 % anomalous), values ternary"),
    /**
     * {@code vidkv-1.5/1.66-stp}: VidKV keys at 1.5 bits, ternary values, protected tokens at 2
     * bits; the caller marks them ({@link KvCache#protectBySaliency}), 20 % in the nominal count.
     */
    VIDKV_15_166_STP("vidkv-1.5/1.66-stp", "VidKV keys 1.5-bit, values ternary with 20 % protected tokens at 2 bits"),
    /** {@code vidkv-1.75/1.66-stp}: as {@link #VIDKV_15_166_STP} with keys at 1.75 bits (75 % anomalous). */
    VIDKV_175_166_STP("vidkv-1.75/1.66-stp", "VidKV keys 1.75-bit, values ternary with 20 % protected tokens at 2 bits"),
    /**
     * {@code vidkv-1.5/1.58-compact}: as {@link #VIDKV_15_158} with {@link MetadataFormat#COMPACT8}
     * metadata, G = 64 and 2 calibration groups: the only preset of the paper's rules under 2
     * effective bits (about 1.72 at d = 128, see {@link MemoryReport#effectiveBits()}).
     */
    VIDKV_15_158_COMPACT("vidkv-1.5/1.58-compact", "vidkv-1.5/1.58 with 8-bit log scales under FP16 super-scales, G = 64"),
    /**
     * {@code vidkv-reference-1.5/1.58}: the public reference code's behaviour (METHOD.md section 6),
     * for comparison only: one key split per layer, the prefill quantized but for N mod G tokens, the
     * whole layer quantized again whenever the window reaches R ({@link LayerConfig#referenceMode()}).
     */
    VIDKV_REFERENCE("vidkv-reference-1.5/1.58", "the public reference code's behaviour: complex FFT (2n bits), {0, s} signs, "
            + "unscaled ternary (gamma 0.5) in 2-bit fields, FP16 metadata, one split per layer, re-quantization whenever the window reaches 128 tokens"),
    /**
     * {@code vidkv-2/1.58-lsq}: keys 2-bit per channel with least-squares scale and zero point
     * ({@link ParameterFit#LEAST_SQUARES}), values ternary per token with the least-squares
     * threshold (channels normalized by their calibration mean |v|, {@link QuantAxis#PER_TOKEN}) and
     * 3-bit token scales under one block scale ({@link ValueSpec#withTokenScaleBits}),
     * {@link MetadataFormat#COMPACT8} metadata, G = 64, 2 calibration groups: beyond the paper, under
     * 2 effective bits at d = 32 and d = 128 (each token scale is 3 / d bits of a value).
     */
    VIDKV_2_158_LSQ("vidkv-2/1.58-lsq", "keys 2-bit per channel (least-squares fit), values ternary per token (least-squares "
            + "threshold, channels normalized at calibration, 3-bit token scales), 8-bit log metadata, G = 64");

    private final String id;
    private final String description;

    Preset(String id, String description) {
        this.id = id;
        this.description = description;
    }

    /**
     * The name users type, e.g. {@code vidkv-1.5/1.58}.
     *
     * @return the id, accepted by {@link #byId(String)}
     */
    public String id() {
        return id;
    }

    /**
     * One line for listings (e.g. {@code vidkv info}).
     *
     * @return what the preset stores, in words
     */
    public String description() {
        return description;
    }

    /**
     * The preset with this id.
     *
     * @param id a preset id, exactly as {@link #id()} spells it (case-sensitive)
     * @return the preset
     * @throws IllegalArgumentException if no preset has this id (the message lists the known ids)
     */
    public static Preset byId(String id) {
        for (Preset p : values()) {
            if (p.id.equals(id)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown preset '" + id + "'; known: " + ids());
    }

    /**
     * Every preset id, in declaration order.
     *
     * @return an unmodifiable list of the ids
     */
    public static List<String> ids() {
        return Arrays.stream(values()).map(Preset::id).toList();
    }

    /**
     * The layer configuration of this preset.
     *
     * @return a new {@link LayerConfig}; change it per layer with its {@code with...} methods
     */
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
            case VIDKV_2_158_LSQ -> new LayerConfig(KeySpec.uniform(2, QuantAxis.PER_CHANNEL).withFit(ParameterFit.LEAST_SQUARES),
                    ValueSpec.ternary(packing).withThreshold(TernaryThreshold.LEAST_SQUARES).withAxis(QuantAxis.PER_TOKEN)
                            .withTokenScaleBits(3), 64, r, 2, MetadataFormat.COMPACT8);
        };
    }
}
