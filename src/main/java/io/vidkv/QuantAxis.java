package io.vidkv;

/**
 * Which elements share quantization parameters. METHOD.md section 1: "per-channel" = a group of G
 * consecutive tokens of one channel; "per-token" = a group of G consecutive channels of one token.
 */
public enum QuantAxis { PER_CHANNEL, PER_TOKEN }
