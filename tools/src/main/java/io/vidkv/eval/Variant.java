package io.vidkv.eval;

import io.vidkv.KeySpec;
import io.vidkv.LayerConfig;
import io.vidkv.Preset;
import io.vidkv.QuantAxis;
import io.vidkv.SplitMetric;

import java.util.ArrayList;
import java.util.List;

/**
 * One configuration to evaluate: a preset, or a named experiment from the paper (a preset with one
 * choice changed).
 *
 * @param name       what the reports call it (the preset id for presets)
 * @param config     the layer configuration
 * @param protection which tokens are protected when the configuration protects any
 */
public record Variant(String name, LayerConfig config, Protection protection) {

    /** How protected tokens are chosen. */
    public enum Protection {
        /** the top fraction p by attention received from the data's queries */
        SALIENT,
        /** p of the tokens chosen at random (the paper's control) */
        RANDOM
    }

    public static Variant of(Preset p) {
        return new Variant(p.id(), p.layerConfig(), Protection.SALIENT);
    }

    /**
     * The paper's comparisons (METHOD.md and the evaluation issue), as variants of the presets:
     * per-channel vs per-token values, channel split by range vs variance vs outlier count, normal key
     * channels with and without the FFT, protection of salient vs random tokens; and the ternary
     * threshold by gamma x mean |v| (the paper) vs by least squares, and uniform parameters by
     * min/max (KIVI) vs by least squares. The reference-code
     * mode vs ours is the pair of presets {@code vidkv-reference-1.5/1.58} and {@code vidkv-1.5/1.58}.
     */
    public static List<Variant> experiments() {
        List<Variant> v = new ArrayList<>();
        LayerConfig base = Preset.VIDKV_15_158.layerConfig();
        LayerConfig twoBit = Preset.VIDKV_2.layerConfig();
        v.add(new Variant("exp:values-2bit-per-channel", twoBit, Protection.SALIENT));
        v.add(new Variant("exp:values-2bit-per-token", twoBit.withValues(io.vidkv.ValueSpec.uniform(2, QuantAxis.PER_TOKEN)),
                Protection.SALIENT));
        v.add(new Variant("exp:split-range", base, Protection.SALIENT));
        v.add(new Variant("exp:split-variance", base.withKeys(base.keys().withSplit(SplitMetric.VARIANCE)), Protection.SALIENT));
        v.add(new Variant("exp:split-outlier-count", base.withKeys(base.keys().withSplit(SplitMetric.OUTLIER_COUNT)),
                Protection.SALIENT));
        v.add(new Variant("exp:normal-keys-fft", base, Protection.SALIENT));
        v.add(new Variant("exp:normal-keys-no-fft", base.withKeys(base.keys().withSpectral(false)), Protection.SALIENT));
        // ternary threshold: the paper's gamma x mean |v| vs the least-squares choice (same bits)
        v.add(new Variant("exp:ternary-gamma", base, Protection.SALIENT));
        v.add(new Variant("exp:ternary-least-squares",
                base.withValues(base.values().withThreshold(io.vidkv.TernaryThreshold.LEAST_SQUARES)), Protection.SALIENT));
        // ternary values with threshold and scale per token (channels normalized at calibration) vs per channel
        v.add(new Variant("exp:ternary-per-token-ls", base.withValues(base.values()
                .withThreshold(io.vidkv.TernaryThreshold.LEAST_SQUARES).withAxis(QuantAxis.PER_TOKEN)), Protection.SALIENT));
        LayerConfig compact = Preset.VIDKV_15_158_COMPACT.layerConfig();
        v.add(new Variant("exp:compact+ternary-ls",
                compact.withValues(compact.values().withThreshold(io.vidkv.TernaryThreshold.LEAST_SQUARES)), Protection.SALIENT));
        // uniform parameters: KIVI's min/max vs least squares (same bits), on kivi-2's keys and values
        LayerConfig kivi = Preset.KIVI_2.layerConfig();
        v.add(new Variant("exp:uniform-min-max", kivi, Protection.SALIENT));
        v.add(new Variant("exp:uniform-least-squares", kivi.withKeys(kivi.keys().withFit(io.vidkv.ParameterFit.LEAST_SQUARES))
                .withValues(kivi.values().withFit(io.vidkv.ParameterFit.LEAST_SQUARES)), Protection.SALIENT));
        // both least-squares choices together, near 2 bits: 2-bit keys per channel and ternary values per
        // channel, 8-bit log metadata, G = 64: the preset vidkv-2/1.58-lsq with its values per token instead
        v.add(new Variant("exp:k2fit+ternls-compact-g64", new LayerConfig(
                KeySpec.uniform(2, QuantAxis.PER_CHANNEL).withFit(io.vidkv.ParameterFit.LEAST_SQUARES),
                io.vidkv.ValueSpec.ternary(io.vidkv.TernaryPacking.BASE3).withThreshold(io.vidkv.TernaryThreshold.LEAST_SQUARES),
                64, LayerConfig.DEFAULT_RESIDUAL, 2, io.vidkv.MetadataFormat.COMPACT8), Protection.SALIENT));
        // the frontier around the new preset: VidKV 1.5-bit keys with per-token ternary values (toward
        // 1.75 bits), the preset at G = 32 (toward 2.25 bits), and 8-bit log metadata on kivi-2's
        // least-squares codes (toward 2.5 bits)
        v.add(new Variant("exp:compact+terntok-ls", compact.withValues(compact.values()
                .withThreshold(io.vidkv.TernaryThreshold.LEAST_SQUARES).withAxis(QuantAxis.PER_TOKEN)), Protection.SALIENT));
        v.add(new Variant("exp:lsq-g32", Preset.VIDKV_2_158_LSQ.layerConfig().withGroupSize(32).withCalibrationGroups(4),
                Protection.SALIENT));
        // the preset's token scales as one 8-bit log parameter a token instead of 3-bit codes under a block scale
        LayerConfig lsq = Preset.VIDKV_2_158_LSQ.layerConfig();
        v.add(new Variant("exp:lsq-tok8", lsq.withValues(lsq.values().withTokenScaleBits(0)), Protection.SALIENT));
        // ... and as 4-bit codes (16 levels over 5 octaves instead of the preset's 8 over 2.33)
        v.add(new Variant("exp:lsq-tok4", lsq.withValues(lsq.values().withTokenScaleBits(4)), Protection.SALIENT));
        // 4-bit token scales on the 1.5-bit VidKV keys (toward 1.75 bits)
        v.add(new Variant("exp:compact+terntok-ls-tok4", compact.withValues(compact.values()
                .withThreshold(io.vidkv.TernaryThreshold.LEAST_SQUARES).withAxis(QuantAxis.PER_TOKEN).withTokenScaleBits(4)),
                Protection.SALIENT));
        LayerConfig kiviLs = kivi.withKeys(kivi.keys().withFit(io.vidkv.ParameterFit.LEAST_SQUARES))
                .withValues(kivi.values().withFit(io.vidkv.ParameterFit.LEAST_SQUARES));
        v.add(new Variant("exp:uniform-ls-compact", new LayerConfig(kiviLs.keys(), kiviLs.values(), kiviLs.groupSize(),
                kiviLs.residual(), kiviLs.calibrationGroups(), io.vidkv.MetadataFormat.COMPACT8), Protection.SALIENT));
        LayerConfig stp = Preset.VIDKV_15_166_STP.layerConfig();
        v.add(new Variant("exp:protect-salient", stp, Protection.SALIENT));
        v.add(new Variant("exp:protect-random", stp, Protection.RANDOM));
        return v;
    }
}
