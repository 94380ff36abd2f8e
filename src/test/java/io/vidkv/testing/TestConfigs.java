package io.vidkv.testing;

import io.vidkv.KeySpec;
import io.vidkv.LayerConfig;
import io.vidkv.Preset;
import io.vidkv.ValueSpec;
import io.vidkv.MetadataFormat;
import io.vidkv.QuantAxis;
import io.vidkv.TernaryPacking;

/**
 * Layer configurations for parameterized tests, written as a preset id with modifiers:
 * {@code vidkv-1.5/1.58+kb=1.3+planes+compact}. Modifiers: {@code kb=X} VidKV key bits,
 * {@code flat} VidKV keys without the transform, {@code pergroup} per-block channel split,
 * {@code planes} ternary PLANES packing, {@code compact} COMPACT8 metadata, {@code k=BITS:AXIS} and
 * {@code v=BITS:AXIS} uniform keys or values ({@code AXIS} = {@code ch} or {@code tok}),
 * {@code G=N}, {@code R=N}, {@code C=N} group size, residual window, calibration groups,
 * {@code fit} least-squares parameters for uniform keys and values, {@code lsternary} the
 * least-squares ternary threshold, {@code terntok} ternary values per token, {@code tok4},
 * {@code tok3} and {@code tok8} their token scales as 4- or 3-bit codes under a block scale or one
 * parameter a token.
 */
public final class TestConfigs {

    private TestConfigs() {
    }

    public static LayerConfig layer(String spec) {
        String[] parts = spec.split("\\+");
        LayerConfig lc = Preset.byId(parts[0]).layerConfig();
        for (int i = 1; i < parts.length; i++) {
            String m = parts[i];
            String arg = m.contains("=") ? m.substring(m.indexOf('=') + 1) : "";
            KeySpec k = lc.keys();
            ValueSpec v = lc.values();
            lc = switch (m.contains("=") ? m.substring(0, m.indexOf('=')) : m) {
                case "kb" -> lc.withKeys(new KeySpec(k.kind(), k.bits(), k.axis(), Double.parseDouble(arg), k.split(),
                        k.spectral(), k.splitPerGroup(), k.fit()));
                case "fit" -> lc.withKeys(k.withFit(io.vidkv.ParameterFit.LEAST_SQUARES))
                        .withValues(v.withFit(io.vidkv.ParameterFit.LEAST_SQUARES));
                case "lsternary" -> lc.withValues(v.withThreshold(io.vidkv.TernaryThreshold.LEAST_SQUARES));
                case "terntok" -> lc.withValues(v.withAxis(QuantAxis.PER_TOKEN));
                case "tok4" -> lc.withValues(v.withTokenScaleBits(4));
                case "tok3" -> lc.withValues(v.withTokenScaleBits(3));
                case "tok8" -> lc.withValues(v.withTokenScaleBits(0));
                case "flat" -> lc.withKeys(k.withSpectral(false));
                case "pergroup" -> lc.withKeys(k.withSplitPerGroup(true));
                case "planes" -> lc.withValues(v.withPacking(TernaryPacking.PLANES));
                case "compact" -> new LayerConfig(k, v, lc.groupSize(), lc.residual(), lc.calibrationGroups(),
                        MetadataFormat.COMPACT8);
                case "k" -> lc.withKeys(KeySpec.uniform(bits(arg), axis(arg)));
                case "v" -> lc.withValues(ValueSpec.uniform(bits(arg), axis(arg)));
                case "G" -> lc.withGroupSize(Integer.parseInt(arg));
                case "R" -> lc.withResidual(Integer.parseInt(arg));
                case "C" -> lc.withCalibrationGroups(Integer.parseInt(arg));
                default -> throw new IllegalArgumentException("unknown modifier '" + m + "' in " + spec);
            };
        }
        return lc;
    }

    private static int bits(String arg) {
        return Integer.parseInt(arg.substring(0, arg.indexOf(':')));
    }

    private static QuantAxis axis(String arg) {
        return switch (arg.substring(arg.indexOf(':') + 1)) {
            case "ch" -> QuantAxis.PER_CHANNEL;
            case "tok" -> QuantAxis.PER_TOKEN;
            default -> throw new IllegalArgumentException("axis must be ch or tok: " + arg);
        };
    }
}
