package io.vidkv.layout;

/**
 * Ternary values ("1.58-bit", METHOD.md section 3) per channel over the G tokens, optionally with
 * protected tokens stored at 2 bits. Trit digits: 0 is 0, 1 is +1, 2 is -1; decoded value
 * v = scale_c * trit.
 *
 * <pre>
 * codes, BASE3 (5 trits a byte, 3^5 = 243 < 256): q = G / 5 whole bytes per channel, then a tail of
 *         r = G % 5 tokens per channel.
 *           byte i of channel c at c q + i: sum over k < 5 of digit(token 5i + k) * 3^k
 *           tail of channel c: bits [c w, (c+1) w) of the bit string at d q, w = {0, 2, 4, 5, 7}[r]
 *             bits, value sum over k < r of digit(token 5q + k) * 3^k; ceil(d w / 8) bytes
 *         (G = 32: 6 bytes and a 4-bit tail = 52 bits per channel, 1.625 bits per value)
 * codes, PLANES: channel c's nonzero plane (G bits, bit t = token t) at 2c G/8, its negative plane
 *         at (2c + 1) G/8 (2 bits per value).
 * scales: d scales (channel c at codes + c paramBytes); v = scale_c * trit.
 * with token scales instead (ternary codes per token, {@link #tokenScales()}): G scales (token t at
 *         codes + t paramBytes), COMPACT8 ones relative to {@link #TOKEN_SUPER}; the channel
 *         normalizer n_c is per (layer, head) state fixed at calibration (HeadState.valueSuper);
 *         v = n_c * scale_t * trit. Never with protection.
 *       with b-bit token scales ({@link #tokenScaleBits()} = b, 3 or 4): one block scale S at codes
 *         (one parameter, COMPACT8 relative to {@link #TOKEN_SUPER}), the block's step index j (one
 *         byte, 0-7) at codes + paramBytes, then G b-bit codes as a bit string at codes + paramBytes
 *         + 1, token t's at bits [b t, b t + b) (bit i in byte i / 8, bit i % 8): scale_t = S *
 *         2^(-(top - code) * {@link #TOKEN_STEP_OCTAVES}[j]), top = 2^b - 1,
 *         {@link #tokenFactor(int, int)}; 1 + ceil(G b / 8) bytes.
 * with protection:
 *   mask:  G / 8 bytes, bit t = token t protected (its trit is 0).
 *   if P = popcount(mask) > 0: the P protected tokens in token order, each as two bit planes of its
 *          d channels' 2-bit codes (protected token i, plane p at (2i + p) d/8, bit c), then d
 *          scales and d zero points (v = zero_c + scale_c * code).
 * </pre>
 * Channel-major, five tokens a byte: the value kernel looks each byte up as (positive mask,
 * negative mask) of five tokens and sums 32-entry tables of probabilities of those tokens.
 */
public final class TernaryLayout {

    /**
     * The super-scale of COMPACT8 token scales: a token scale is relative to the channel normalizer
     * (mean |v| at calibration), so its values sit near 1 whatever the data's magnitude; 16 puts the
     * 8-bit log range at [0.051, 78] channel means (loud tokens such as attention sinks matter more
     * than quiet ones, so the range leans up).
     */
    public static final float TOKEN_SUPER = 16f;

    /**
     * The spacings of b-bit token scale levels a block chooses from, in octaves per level: with
     * 3-bit codes, 8 levels over 1.75 to 21 octaves below the block scale. The encoder takes the one
     * that fits the block's token scales best (TernaryTokenCodec), so a block of similar tokens gets
     * fine steps and one with a loud sink and quiet tokens a wide range: on MiniLM's values (NumPy
     * prototype) 3-bit codes then lose 0.4235 relative value error against 0.4247 at a fixed third
     * of an octave and 0.4237 for fixed 4-bit codes.
     */
    public static final double[] TOKEN_STEP_OCTAVES = {0.25, 1 / 3.0, 0.5, 2 / 3.0, 1, 4 / 3.0, 2, 3};

    /** TOKEN_FACTOR[j][i] = 2^(-i * TOKEN_STEP_OCTAVES[j]): the factor i levels below the top at step j. */
    private static final float[][] TOKEN_FACTOR = new float[TOKEN_STEP_OCTAVES.length][16];

    static {
        for (int j = 0; j < TOKEN_STEP_OCTAVES.length; j++) {
            for (int i = 0; i < 16; i++) {
                TOKEN_FACTOR[j][i] = (float) Math.pow(2, -i * TOKEN_STEP_OCTAVES[j]);
            }
        }
    }

    /** A token scale code's factor of the block scale at step index j: 1 for the top code. */
    public static float tokenFactor(int step, int levelsBelowTop) {
        return TOKEN_FACTOR[step][levelsBelowTop];
    }

    /** Bits of a tail of r trits, r < 5: ceil(log2(3^r)). */
    private static final int[] TAIL_BITS = {0, 2, 4, 5, 7};

    private final boolean base3;
    private final boolean protection;
    private final int groupSize;
    private final int headDim;
    private final int paramBytes;
    private final boolean tokenScales;
    private final int tokenScaleBits;

    public TernaryLayout(boolean base3, boolean protection, int groupSize, int headDim, int paramBytes) {
        this(base3, protection, false, 0, groupSize, headDim, paramBytes);
    }

    /**
     * With {@code tokenScales}: one scale per token instead of one per channel (no protection), each
     * a parameter ({@code tokenScaleBits} 0) or a b-bit code under a block scale (3 or 4).
     */
    public TernaryLayout(boolean base3, boolean protection, boolean tokenScales, int tokenScaleBits, int groupSize, int headDim,
                         int paramBytes) {
        if (tokenScales && protection) {
            throw new IllegalArgumentException("ternary token scales do not combine with protected tokens");
        }
        if (tokenScaleBits != 0 && !(tokenScales && (tokenScaleBits == 3 || tokenScaleBits == 4))) {
            throw new IllegalArgumentException("3- or 4-bit token scales need ternary values per token, got " + tokenScaleBits + " bits");
        }
        this.tokenScales = tokenScales;
        this.tokenScaleBits = tokenScaleBits;
        this.base3 = base3;
        this.protection = protection;
        this.groupSize = groupSize;
        this.headDim = headDim;
        this.paramBytes = paramBytes;
    }

    public boolean base3() {
        return base3;
    }

    public boolean protection() {
        return protection;
    }

    /** Whether the block has G token scales (ternary codes per token) instead of d channel scales. */
    public boolean tokenScales() {
        return tokenScales;
    }

    /** b (3 or 4) when token scales are b-bit codes under a block scale, else 0 (a parameter a scale). */
    public int tokenScaleBits() {
        return tokenScaleBits;
    }

    /** How many scales the block stores: G token scales or d channel scales. */
    public int scaleCount() {
        return tokenScales ? groupSize : headDim;
    }

    /** Whole 5-trit bytes per channel (BASE3). */
    public int fullBytes() {
        return groupSize / 5;
    }

    /** Tokens in a channel's tail (BASE3). */
    public int tailTokens() {
        return groupSize % 5;
    }

    /** Bits of a channel's tail (BASE3). */
    public int tailBits() {
        return TAIL_BITS[tailTokens()];
    }

    /** BASE3: byte i of channel c. */
    public long trits(int c, int i) {
        return (long) c * fullBytes() + i;
    }

    /** BASE3: start of the tail bit string. */
    public long tail() {
        return (long) headDim * fullBytes();
    }

    /** PLANES: nonzero plane of channel c. */
    public long nonzeroPlane(int c) {
        return (long) (2 * c) * (groupSize / 8);
    }

    /** PLANES: negative plane of channel c. */
    public long negativePlane(int c) {
        return (long) (2 * c + 1) * (groupSize / 8);
    }

    public long codeBytes() {
        return base3 ? tail() + ((long) headDim * tailBits() + 7) / 8 : 2L * headDim * (groupSize / 8);
    }

    /** Scale i: of channel i, or of token i with {@link #tokenScales()} (not with b-bit token scales). */
    public long scale(int i) {
        return codeBytes() + (long) i * paramBytes;
    }

    /** b-bit token scales: the block scale. */
    public long blockScale() {
        return codeBytes();
    }

    /** b-bit token scales: the byte of the block's step index (into {@link #TOKEN_STEP_OCTAVES}). */
    public long tokenScaleStep() {
        return codeBytes() + paramBytes;
    }

    /** b-bit token scales: the bit string of the codes, token t's at bits [b t, b t + b). */
    public long tokenScaleCodes() {
        return codeBytes() + paramBytes + 1;
    }

    /** b-bit token scales: the top code (the block scale itself), 2^b - 1. */
    public int topTokenCode() {
        return (1 << tokenScaleBits) - 1;
    }

    /** Bytes of the scales: d or G parameters, or one block scale, a step byte and G b-bit codes. */
    private long scaleBytes() {
        return tokenScaleBits != 0 ? paramBytes + 1 + ((long) groupSize * tokenScaleBits + 7) / 8 : (long) scaleCount() * paramBytes;
    }

    public long mask() {
        return codeBytes() + scaleBytes();
    }

    /** Protected token i's plane p. */
    public long protectedPlane(int i, int plane) {
        return mask() + groupSize / 8 + (long) (2 * i + plane) * (headDim / 8);
    }

    public long protectedScale(int protectedTokens, int c) {
        return protectedPlane(protectedTokens, 0) + (long) c * paramBytes;
    }

    public long protectedZero(int protectedTokens, int c) {
        return protectedPlane(protectedTokens, 0) + (long) (headDim + c) * paramBytes;
    }

    public long metadataBytes(int protectedTokens) {
        long m = scaleBytes();
        if (protection) {
            m += groupSize / 8;
            if (protectedTokens > 0) {
                m += 2L * headDim * paramBytes;
            }
        }
        return m;
    }

    public long blockBytes(int protectedTokens) {
        long protectedCodes = protection && protectedTokens > 0 ? (long) protectedTokens * 2 * (headDim / 8) : 0;
        return codeBytes() + protectedCodes + metadataBytes(protectedTokens);
    }
}
