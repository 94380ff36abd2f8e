package io.vidkv;

/**
 * How a block stores its quantization parameters (scales and zero points). METHOD.md counts them
 * as metadata: at G = 32 they are about a third of a 2.19-bit block.
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
