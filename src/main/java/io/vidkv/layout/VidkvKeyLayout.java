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
 * codes:  token-major bit strings of L = 2a + n bits, token t's at byte t * S, S = ceil(L / 8):
 *           bit r       (r < a)  bit 0 of anomalous row r's code
 *           bit a + r   (r < a)  bit 1 of the same code          (code = bit0 + 2 bit1)
 *           bit 2a + j  (j < n)  sign of component j, 1 = +scale, 0 = -scale
 *         bits L .. 8S-1 are zero.
 * params: at G S: a scales, a zero points, n component scales, paramBytes each.
 * mask:   only with a per-group split: d / 8 bytes after the params, bit c = channel c anomalous
 *         (the block's own split; rows then list the anomalous channels ascending, then the normal).
 * </pre>
 * Decoded: anomalous x = zero_r + scale_r * code; component = sign ? +scale_j : -scale_j.
 * Token-major so that the kernel scores one token by summing 16-entry tables indexed by each four
 * consecutive bits of its string (the weights q'_r scale_r folded per block, query heads in lanes).
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

    /** L: bits of one token's string. */
    public int tokenBits() {
        return 2 * anomalous + normal;
    }

    /** S: bytes of one token's string. */
    public int tokenBytes() {
        return (tokenBits() + 7) / 8;
    }

    public long token(int t) {
        return (long) t * tokenBytes();
    }

    public int lowBit(int r) {
        return r;
    }

    public int highBit(int r) {
        return anomalous + r;
    }

    public int signBit(int j) {
        return 2 * anomalous + j;
    }

    public long codeBytes() {
        return (long) groupSize * tokenBytes();
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
