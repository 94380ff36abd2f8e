package io.vidkv;

/**
 * Which elements share quantization parameters. METHOD.md section 1: "per-channel" = a group of G
 * consecutive tokens of one channel; "per-token" = a group of G consecutive channels of one token.
 * Only {@link KeySpec.Kind#UNIFORM} keys and {@link ValueSpec.Kind#UNIFORM} and
 * {@link ValueSpec.Kind#TERNARY} values choose an axis; the other kinds ignore it.
 */
public enum QuantAxis {
    /** One scale and zero point per (channel, group of G tokens): VidKV's keys, and its values. */
    PER_CHANNEL,
    /**
     * One scale and zero point per (token, G consecutive channels), or per token over all d
     * channels when G does not divide d: KIVI's values.
     */
    PER_TOKEN
}
