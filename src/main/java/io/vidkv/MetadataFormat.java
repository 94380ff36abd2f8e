package io.vidkv;

/**
 * How a block stores its quantization parameters (scales and zero points). METHOD.md counts them
 * as metadata: at G = 32 they are about a third of a 2.19-bit block.
 *
 * <p>Chosen per layer by {@link LayerConfig#metadata()}; used by uniform, VidKV and ternary codes.
 * FP16 and reference-mode blocks ignore it (the reference code always stores FP16). Either format
 * stores FP16 numbers (COMPACT8 its super-scales), so with either one {@link KvCache#append}
 * rejects inputs of magnitude above 65504.
 */
public enum MetadataFormat {
    /** Each scale and each zero point as an IEEE half (2 bytes), as in the paper. */
    FP16(2),
    /**
     * One byte each, relative to a per-(layer, head, row) FP16 super-scale fixed when the head is
     * calibrated (like llama.cpp's k-quants): a scale is {@code super * 2^((code - 200) / 24)}, 2.9 %
     * steps from 2^-8.3 to 2^2.3 times the super-scale, so later groups may be up to 5x larger than
     * anything seen at calibration before they clip; a zero point is {@code scale * (code - 128) / 4},
     * quarter-scale steps within 32 scales either side.
     *
     * <p>Needs a frozen channel split: {@link KeySpec#splitPerGroup()} with COMPACT8 is rejected
     * ({@code IllegalArgumentException}) when the cache is created.
     */
    COMPACT8(1);

    private final int bytes;

    MetadataFormat(int bytes) {
        this.bytes = bytes;
    }

    /**
     * Bytes of one stored scale or zero point.
     *
     * @return 2 for {@link #FP16}, 1 for {@link #COMPACT8}
     */
    public int bytes() {
        return bytes;
    }
}
