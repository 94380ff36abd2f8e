package io.vidkv.layout;

/**
 * Uniform k-bit codes with a scale and a zero point per parameter group (KIVI, VidKV-2, the 2-bit
 * values of VidKV-1.5/2). Code {@code q} of an element decodes to {@code zero + scale * q}.
 *
 * <pre>
 * keys:   k d bit rows of G bits (bit t = token t): row p d + c, at byte (p d + c) G / 8, holds
 *         bit p of channel c's codes (p < k: bit planes, channel inside a plane).
 * values: channel-major bit planes. Bit plane p of channel c is G bits at byte (c k + p) G / 8;
 *         bit t = token t.
 * params: after the codes (k G d / 8 bytes): P scales, then P zero points, paramBytes each.
 *         Per channel: P = d, parameter c belongs to channel c (over the G tokens).
 *         Per token:   P = G (d / cg), parameter t (d / cg) + j to token t, channels [j cg, (j+1) cg),
 *                      cg = G if G divides d, else d.
 * </pre>
 * Keys are bit rows over the tokens because the key kernel scores G tokens at once, tokens in the
 * vector lanes, one row as one lane mask; values are channel-major because the value kernel sums,
 * per channel, table entries indexed by the bits of five consecutive tokens.
 */
public final class UniformLayout {

    private final int bits;
    private final boolean perChannel;
    private final int groupSize;
    private final int headDim;
    private final int paramBytes;
    private final int channelGroup;

    public UniformLayout(int bits, boolean perChannel, int groupSize, int headDim, int paramBytes) {
        this.bits = bits;
        this.perChannel = perChannel;
        this.groupSize = groupSize;
        this.headDim = headDim;
        this.paramBytes = paramBytes;
        this.channelGroup = channelGroup(groupSize, headDim);
    }

    /** Channels per parameter of a per-token block. */
    public static int channelGroup(int groupSize, int headDim) {
        return headDim % groupSize == 0 ? groupSize : headDim;
    }

    public int bits() {
        return bits;
    }

    public boolean perChannel() {
        return perChannel;
    }

    public int channelGroup() {
        return channelGroup;
    }

    /** Bit rows of a key block (k d). */
    public int keyRows() {
        return bits * headDim;
    }

    /** Index of the key bit row holding bit {@code plane} of channel {@code c}. */
    public int keyRow(int plane, int c) {
        return plane * headDim + c;
    }

    /** Byte offset of key bit row i (G bits, bit t = token t). */
    public long keyRowOffset(int i) {
        return (long) i * (groupSize / 8);
    }

    /** Byte offset of bit plane {@code plane} of channel c in a value block. */
    public long valuePlane(int c, int plane) {
        return (long) (c * bits + plane) * (groupSize / 8);
    }

    public long codeBytes() {
        return (long) bits * groupSize * headDim / 8;
    }

    /** Number of parameters (scales, and as many zero points). */
    public int params() {
        return perChannel ? headDim : groupSize * (headDim / channelGroup);
    }

    /** Index of the parameter of token t, channel c. */
    public int param(int t, int c) {
        return perChannel ? c : t * (headDim / channelGroup) + c / channelGroup;
    }

    public long scale(int p) {
        return codeBytes() + (long) p * paramBytes;
    }

    public long zero(int p) {
        return codeBytes() + (long) (params() + p) * paramBytes;
    }

    public long blockBytes() {
        return codeBytes() + 2L * params() * paramBytes;
    }

    public long metadataBytes() {
        return 2L * params() * paramBytes;
    }
}
