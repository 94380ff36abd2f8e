package io.vidkv;


/**
 * How a layer's values are stored.
 *
 * @param kind              FP16, UNIFORM (k-bit min/max) or TERNARY ({-1, 0, +1} per channel)
 * @param bits              UNIFORM: bits per code
 * @param axis              UNIFORM: parameter sharing
 * @param gamma             TERNARY: threshold factor (a = gamma * mean |v|)
 * @param packing           TERNARY: code packing
 * @param protection        TERNARY: protected tokens kept at 2 bits per channel
 * @param protectedFraction the fraction p of tokens the built-in scorers protect (nominal bits use it)
 */
public record ValueSpec(Kind kind, int bits, QuantAxis axis, double gamma, TernaryPacking packing,
                        boolean protection, double protectedFraction) {

    public enum Kind { FP16, UNIFORM, TERNARY, REFERENCE }

    public static final double DEFAULT_GAMMA = 0.7;
    public static final double DEFAULT_PROTECTED_FRACTION = 0.2;

    public ValueSpec {
        if (kind == null || axis == null || packing == null) {
            throw new IllegalArgumentException("value spec fields must not be null");
        }
        if (!(protectedFraction >= 0 && protectedFraction <= 1)) {
            throw new IllegalArgumentException("protected fraction must be in [0, 1], got " + protectedFraction);
        }
    }

    public static ValueSpec fp16() {
        return new ValueSpec(Kind.FP16, 16, QuantAxis.PER_CHANNEL, 0, TernaryPacking.PLANES, false, 0);
    }

    public static ValueSpec uniform(int bits, QuantAxis axis) {
        return new ValueSpec(Kind.UNIFORM, bits, axis, 0, TernaryPacking.PLANES, false, 0);
    }

    public static ValueSpec ternary(TernaryPacking packing) {
        return new ValueSpec(Kind.TERNARY, 2, QuantAxis.PER_CHANNEL, DEFAULT_GAMMA, packing, false, 0);
    }

    public static ValueSpec ternaryProtected(TernaryPacking packing, double p) {
        return new ValueSpec(Kind.TERNARY, 2, QuantAxis.PER_CHANNEL, DEFAULT_GAMMA, packing, true, p);
    }

    /** The reference code's values (METHOD.md section 6): unscaled ternary, gamma 0.5, 2-bit fields. */
    public static ValueSpec reference() {
        return new ValueSpec(Kind.REFERENCE, 2, QuantAxis.PER_CHANNEL, 0.5, TernaryPacking.PLANES, false, 0);
    }

    public ValueSpec withGamma(double g) {
        return new ValueSpec(kind, bits, axis, g, packing, protection, protectedFraction);
    }

    public ValueSpec withPacking(TernaryPacking p) {
        return new ValueSpec(kind, bits, axis, gamma, p, protection, protectedFraction);
    }

    /** Bits per value element as the paper counts them: 1.58 ternary, p x 2 + (1 - p) x 1.58 with protection. */
    public double nominalBits() {
        return switch (kind) {
            case FP16 -> 16;
            case UNIFORM -> bits;
            case TERNARY -> protection ? protectedFraction * 2 + (1 - protectedFraction) * 1.58 : 1.58;
            case REFERENCE -> 1.58;
        };
    }
}
