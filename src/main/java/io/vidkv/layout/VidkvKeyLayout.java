package io.vidkv.layout;

/**
 * VidKV keys (METHOD.md sections 2 and 7): a anomalous channels at 2 bits (min/max per channel over
 * the G tokens) and the n = d - a normal channels as one sign bit per real DFT component, with one
 * scale per component. Rows: r < a is anomalous channel {@code keyOrder[r]}; component j < n is
 * Re X0 (j = 0), Re X((j+1)/2) (j odd), Im X(j/2) (j even, j > 0); for even n the last, j = n - 1,
 * is Re X(n/2). Without the transform ({@code spectral = false}) component j is normal channel
 * {@code keyOrder[a + j]} itself.
 *
 * <pre>
 * codes:  L = 2a + n bit rows of G bits each (bit t = token t), row i at byte i G / 8:
 *           row r       (r < a)  bit 0 of anomalous row r's codes   (lowRow)
 *           row a + r   (r < a)  bit 1 of the same codes            (highRow; code = bit0 + 2 bit1)
 *           row 2a + j  (j < n)  signs of component j, 1 = +scale, 0 = -scale   (signRow)
 * params: at L G / 8: a scales, a zero points, n component scales, paramBytes each.
 * mask:   only with a per-group split: d / 8 bytes after the params, bit c = channel c anomalous
 *         (the block's own split; rows then list the anomalous channels ascending, then the normal).
 * </pre>
 * Decoded: anomalous x = zero_r + scale_r * code; component = sign ? +scale_j : -scale_j.
 * Bit rows over the tokens, because the kernel scores G tokens at once, tokens in the vector lanes:
 * one bit row is one lane mask (or one 8-token lookup) added with the row's folded weight
 * q'_r scale_r of every query head.
 */
public final class VidkvKeyLayout {

    private final int groupSize;
    private final int headDim;
    private final int anomalous;
    private final int normal;
    private final int paramBytes;
    private final boolean channelMask;

    public VidkvKeyLayout(int groupSize, int headDim, int anomalous, int paramBytes, boolean channelMask) {
        this.groupSize = groupSize;
        this.headDim = headDim;
        this.anomalous = anomalous;
        this.normal = headDim - anomalous;
        this.paramBytes = paramBytes;
        this.channelMask = channelMask;
    }

    public int anomalous() {
        return anomalous;
    }

    public int normal() {
        return normal;
    }

    /** L: bit rows of the block. */
    public int rows() {
        return 2 * anomalous + normal;
    }

    /** Byte offset of bit row i (G bits, bit t = token t). */
    public long row(int i) {
        return (long) i * (groupSize / 8);
    }

    public int lowRow(int r) {
        return r;
    }

    public int highRow(int r) {
        return anomalous + r;
    }

    public int signRow(int j) {
        return 2 * anomalous + j;
    }

    public long codeBytes() {
        return (long) rows() * (groupSize / 8);
    }

    public long scale(int r) {
        return codeBytes() + (long) r * paramBytes;
    }

    public long zero(int r) {
        return codeBytes() + (long) (anomalous + r) * paramBytes;
    }

    public long componentScale(int j) {
        return codeBytes() + (long) (2 * anomalous + j) * paramBytes;
    }

    public long mask() {
        return codeBytes() + (long) (2 * anomalous + normal) * paramBytes;
    }

    public long metadataBytes() {
        return (long) (2 * anomalous + normal) * paramBytes + (channelMask ? headDim / 8 : 0);
    }

    public long blockBytes() {
        return codeBytes() + metadataBytes();
    }
}
