package io.vidkv.layout;

/**
 * Uniform k-bit codes with a scale and a zero point per parameter group (KIVI, VidKV-2, the 2-bit
 * values of VidKV-1.5/2). Code {@code q} of an element decodes to {@code zero + scale * q}.
 *
 * <pre>
 * keys:   token-major bit strings. Token t's string starts at byte t * S, S = k d / 8; its bit
 *         i = p d + c is bit p of channel c's code (p < k: bit planes, channel inside a plane).
 * values: channel-major bit planes. Bit plane p of channel c is G bits at byte (c k + p) G / 8;
 *         bit t = token t.
 * params: after the codes (k G d / 8 bytes): P scales, then P zero points, paramBytes each.
 *         Per channel: P = d, parameter c belongs to channel c (over the G tokens).
 *         Per token:   P = G (d / cg), parameter t (d / cg) + j to token t, channels [j cg, (j+1) cg),
 *                      cg = G if G divides d, else d.
 * </pre>
 * Keys are token-major because the key kernel scores a token by summing table entries indexed by
 * four consecutive bits of its string; values channel-major because the value kernel sums, per
 * channel, table entries indexed by the bits of five consecutive tokens.
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

    /** Bytes of one token's key bit string (S). */
    public int keyTokenBytes() {
        return bits * headDim / 8;
    }

    /** Bits of one token's key string. */
    public int keyTokenBits() {
        return bits * headDim;
    }

    /** Position of bit {@code plane} of channel {@code c} in a token's key string. */
    public int keyBit(int plane, int c) {
        return plane * headDim + c;
    }

    /** Byte offset of token t's key string. */
    public long keyToken(int t) {
        return (long) t * keyTokenBytes();
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
