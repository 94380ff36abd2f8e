package io.vidkv.codec;

import io.vidkv.kernel.VectorSupport;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The unpacking inner loops of the decode path, shared by the codecs: bit planes, sign planes,
 * ternary codes and FP16, each expanded to floats eight at a time. The 256-bit path maps one code
 * byte (8 codes) to one 8-lane float vector by a table load; it is used when the Vector API is
 * enabled and the platform has 256-bit vectors (AVX2 and up), otherwise the scalar path runs. Both
 * give identical results (they perform the same IEEE operations per element).
 */
public final class PlaneDecoder {

    private static final boolean VECTOR = VectorSupport.ENABLED && Vector256.available();
    private static final ValueLayout.OfByte B = ValueLayout.JAVA_BYTE;
    private static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** Up to 8 code bytes in one load (bit planes of G <= 64 tokens are 4 or 8 bytes). */
    static long word(MemorySegment src, long off, int bytes) {
        if (bytes == 4) {
            return src.get(INT_LE, off) & 0xFFFFFFFFL;
        }
        if (bytes == 8) {
            return src.get(LONG_LE, off);
        }
        long w = 0;
        for (int j = 0; j < bytes; j++) {
            w |= (long) (src.get(B, off + j) & 0xFF) << (8 * j);
        }
        return w;
    }

    private PlaneDecoder() {
    }

    /** out[o + 8j + i] = zero + scale * (bit i of byte j of plane0 + 2 * same of plane1), j < bytes. */
    public static void twoBit(MemorySegment src, long plane0, long plane1, int bytes, float scale, float zero,
                              float[] out, int o) {
        if (VECTOR) {
            Vector256.twoBit(src, plane0, plane1, bytes, scale, zero, out, o);
            return;
        }
        for (int j = 0; j < bytes; j++) {
            int b0 = (src.get(B, plane0 + j) & 0xFF) * 8;
            int b1 = (src.get(B, plane1 + j) & 0xFF) * 8;
            for (int i = 0; i < 8; i++) {
                out[o + 8 * j + i] = Math.fma(scale, CodePlanes.BIT_LUT[b0 + i] + 2f * CodePlanes.BIT_LUT[b1 + i], zero);
            }
        }
    }

    /** Like {@link #twoBit} with per-element parameters: out[o + c] = zeros[c] + scales[c] * code_c. */
    public static void twoBitPerLane(MemorySegment src, long plane0, long plane1, int bytes, float[] scales, float[] zeros,
                                     float[] out, int o) {
        if (VECTOR) {
            Vector256.twoBitPerLane(src, plane0, plane1, bytes, scales, zeros, out, o);
            return;
        }
        for (int j = 0; j < bytes; j++) {
            int b0 = (src.get(B, plane0 + j) & 0xFF) * 8;
            int b1 = (src.get(B, plane1 + j) & 0xFF) * 8;
            for (int i = 0; i < 8; i++) {
                int c = 8 * j + i;
                out[o + c] = Math.fma(scales[c], CodePlanes.BIT_LUT[b0 + i] + 2f * CodePlanes.BIT_LUT[b1 + i], zeros[c]);
            }
        }
    }

    /** out[o + 8j + i] = bit i of byte j ? +scale : -scale. */
    public static void signs(MemorySegment src, long plane, int bytes, float scale, float[] out, int o) {
        if (VECTOR) {
            Vector256.signs(src, plane, bytes, scale, out, o);
            return;
        }
        for (int j = 0; j < bytes; j++) {
            int b = (src.get(B, plane + j) & 0xFF) * 8;
            for (int i = 0; i < 8; i++) {
                out[o + 8 * j + i] = scale * CodePlanes.SIGN_LUT[b + i];
            }
        }
    }

    /** Ternary PLANES: out[o + c] = scales[c] * (nz_c ? (neg_c ? -1 : 1) : 0), c < 8 * bytes. */
    public static void ternaryPlanes(MemorySegment src, long nzPlane, long negPlane, int bytes, float[] scales,
                                     float[] out, int o) {
        if (VECTOR) {
            Vector256.ternaryPlanes(src, nzPlane, negPlane, bytes, scales, out, o);
            return;
        }
        for (int j = 0; j < bytes; j++) {
            int nz = src.get(B, nzPlane + j) & 0xFF;
            int t = (nz & (src.get(B, negPlane + j) & 0xFF)) * 8;
            for (int i = 0; i < 8; i++) {
                int c = 8 * j + i;
                out[o + c] = scales[c] * (CodePlanes.BIT_LUT[nz * 8 + i] - 2f * CodePlanes.BIT_LUT[t + i]);
            }
        }
    }

    /**
     * Ternary BASE3: {@code fields} 13-bit fields from {@code off}; out[o + c] = scales[c] * trit c.
     * Reads whole 8-byte words, so at least 8 bytes must be readable after the last field's first
     * byte (the codec's block layout puts the scales after the codes).
     */
    public static void ternaryBase3(MemorySegment src, long off, int fields, float[] scales, float[] out, int o) {
        long window = 0;
        long windowAt = Long.MIN_VALUE;
        for (int f = 0; f < fields; f++) {
            int bit = f * 13;
            long at = off + (bit >>> 3);
            if (at + 3 > windowAt + 8) { // the field's 3 bytes are not all inside the current 8-byte window
                window = src.get(LONG_LE, at);
                windowAt = at;
            }
            int shift = (int) ((at - windowAt) * 8 + (bit & 7));
            int field = (int) ((window >>> shift) & 0x1FFF);
            int lut = field * 8;
            if (VECTOR) {
                int hi = field / 81;
                Vector256.splitLut(hi * 8, (field - hi * 81) * 8, scales, 8 * f, out, o + 8 * f);
            } else {
                for (int i = 0; i < 8; i++) {
                    out[o + 8 * f + i] = scales[8 * f + i] * TernaryValueCodec.TRIT_LUT[lut + i];
                }
            }
        }
    }

    /** out[o + i] = the FP16 value at src + off + 2i, i < n (finite inputs). */
    public static void halves(MemorySegment src, long off, int n, float[] out, int o) {
        int i = 0;
        if (VECTOR) {
            i = Vector256.halves(src, off, n, out, o);
        }
        for (; i < n; i++) {
            out[o + i] = Float.float16ToFloat(src.get(ValueLayout.JAVA_SHORT_UNALIGNED, off + 2L * i));
        }
    }

    /**
     * Scores of one query over a VidKV key block straight from the codes (see
     * {@link VidkvKeyCodec#scoreBlockFused}): out[o + t] = bias + sum over anomalous rows r of
     * q[qo + r] * scale[r] * (bit0 + 2 bit1) + sum over spectral rows of q * scale * (+-1).
     */
    static void fusedScores(MemorySegment src, long planes, long signPlanes, int anomalous, int normal, int bytesPerRow,
                            float[] q, int qo, float[] scale, float bias, float[] out, int o) {
        if (VECTOR && bytesPerRow == 4) {
            Vector256.fusedScores32(src, planes, signPlanes, anomalous, normal, q, qo, scale, bias, out, o);
            return;
        }
        int tokens = bytesPerRow * 8;
        java.util.Arrays.fill(out, o, o + tokens, bias);
        for (int r = 0; r < anomalous; r++) {
            float w = q[qo + r] * scale[r];
            for (int j = 0; j < bytesPerRow; j++) {
                int b0 = (src.get(B, planes + (long) r * bytesPerRow + j) & 0xFF) * 8;
                int b1 = (src.get(B, planes + (long) (anomalous + r) * bytesPerRow + j) & 0xFF) * 8;
                for (int i = 0; i < 8; i++) {
                    out[o + 8 * j + i] += w * (CodePlanes.BIT_LUT[b0 + i] + 2f * CodePlanes.BIT_LUT[b1 + i]);
                }
            }
        }
        for (int r = 0; r < normal; r++) {
            float w = q[qo + anomalous + r] * scale[anomalous + r];
            for (int j = 0; j < bytesPerRow; j++) {
                int b = (src.get(B, signPlanes + (long) r * bytesPerRow + j) & 0xFF) * 8;
                for (int i = 0; i < 8; i++) {
                    out[o + 8 * j + i] += w * CodePlanes.SIGN_LUT[b + i];
                }
            }
        }
    }

    /** The 256-bit Vector API path: 8 float lanes per code byte. */
    private static final class Vector256 {
        private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
        private static final VectorSpecies<Short> S128 = ShortVector.SPECIES_128;
        private static final VectorSpecies<Integer> I = IntVector.SPECIES_256;

        static boolean available() {
            return FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 256;
        }

        static void twoBit(MemorySegment src, long p0, long p1, int bytes, float scale, float zero, float[] out, int o) {
            if (bytes > 8) {
                for (int j = 0; j < bytes; j += 8) {
                    twoBit(src, p0 + j, p1 + j, Math.min(8, bytes - j), scale, zero, out, o + 8 * j);
                }
                return;
            }
            FloatVector s = FloatVector.broadcast(F, scale);
            FloatVector z = FloatVector.broadcast(F, zero);
            long w0 = word(src, p0, bytes), w1 = word(src, p1, bytes);
            for (int j = 0; j < bytes; j++) {
                int b0 = (int) (w0 >>> (8 * j) & 0xFF) * 8;
                int b1 = (int) (w1 >>> (8 * j) & 0xFF) * 8;
                // zero + scale * (b0 + 2 b1), evaluated as fma(scale, b0 + 2 b1, zero) like the scalar path
                FloatVector code = FloatVector.fromArray(F, CodePlanes.BIT_LUT, b1).fma(FloatVector.broadcast(F, 2f),
                        FloatVector.fromArray(F, CodePlanes.BIT_LUT, b0));
                code.fma(s, z).intoArray(out, o + 8 * j);
            }
        }

        static void twoBitPerLane(MemorySegment src, long p0, long p1, int bytes, float[] scales, float[] zeros,
                                  float[] out, int o) {
            for (int j = 0; j < bytes; j++) {
                int b0 = (src.get(B, p0 + j) & 0xFF) * 8;
                int b1 = (src.get(B, p1 + j) & 0xFF) * 8;
                FloatVector code = FloatVector.fromArray(F, CodePlanes.BIT_LUT, b1).fma(FloatVector.broadcast(F, 2f),
                        FloatVector.fromArray(F, CodePlanes.BIT_LUT, b0));
                code.fma(FloatVector.fromArray(F, scales, 8 * j), FloatVector.fromArray(F, zeros, 8 * j)).intoArray(out, o + 8 * j);
            }
        }

        /** G = 32: four accumulators of 8 tokens stay in registers over all rows. */
        static void fusedScores32(MemorySegment src, long planes, long signPlanes, int anomalous, int normal,
                                  float[] q, int qo, float[] scale, float bias, float[] out, int o) {
            FloatVector a0 = FloatVector.broadcast(F, bias), a1 = a0, a2 = a0, a3 = a0;
            for (int r = 0; r < anomalous; r++) {
                float wr = q[qo + r] * scale[r];
                FloatVector w = FloatVector.broadcast(F, wr), w2 = FloatVector.broadcast(F, 2f * wr);
                long x0 = word(src, planes + 4L * r, 4), x1 = word(src, planes + 4L * (anomalous + r), 4);
                a0 = FloatVector.fromArray(F, CodePlanes.BIT_LUT, (int) (x0 & 0xFF) * 8).fma(w, a0);
                a1 = FloatVector.fromArray(F, CodePlanes.BIT_LUT, (int) (x0 >>> 8 & 0xFF) * 8).fma(w, a1);
                a2 = FloatVector.fromArray(F, CodePlanes.BIT_LUT, (int) (x0 >>> 16 & 0xFF) * 8).fma(w, a2);
                a3 = FloatVector.fromArray(F, CodePlanes.BIT_LUT, (int) (x0 >>> 24 & 0xFF) * 8).fma(w, a3);
                a0 = FloatVector.fromArray(F, CodePlanes.BIT_LUT, (int) (x1 & 0xFF) * 8).fma(w2, a0);
                a1 = FloatVector.fromArray(F, CodePlanes.BIT_LUT, (int) (x1 >>> 8 & 0xFF) * 8).fma(w2, a1);
                a2 = FloatVector.fromArray(F, CodePlanes.BIT_LUT, (int) (x1 >>> 16 & 0xFF) * 8).fma(w2, a2);
                a3 = FloatVector.fromArray(F, CodePlanes.BIT_LUT, (int) (x1 >>> 24 & 0xFF) * 8).fma(w2, a3);
            }
            for (int r = 0; r < normal; r++) {
                FloatVector w = FloatVector.broadcast(F, q[qo + anomalous + r] * scale[anomalous + r]);
                long x = word(src, signPlanes + 4L * r, 4);
                a0 = FloatVector.fromArray(F, CodePlanes.SIGN_LUT, (int) (x & 0xFF) * 8).fma(w, a0);
                a1 = FloatVector.fromArray(F, CodePlanes.SIGN_LUT, (int) (x >>> 8 & 0xFF) * 8).fma(w, a1);
                a2 = FloatVector.fromArray(F, CodePlanes.SIGN_LUT, (int) (x >>> 16 & 0xFF) * 8).fma(w, a2);
                a3 = FloatVector.fromArray(F, CodePlanes.SIGN_LUT, (int) (x >>> 24 & 0xFF) * 8).fma(w, a3);
            }
            a0.intoArray(out, o);
            a1.intoArray(out, o + 8);
            a2.intoArray(out, o + 16);
            a3.intoArray(out, o + 24);
        }

        static void signs(MemorySegment src, long p, int bytes, float scale, float[] out, int o) {
            if (bytes > 8) {
                for (int j = 0; j < bytes; j += 8) {
                    signs(src, p + j, Math.min(8, bytes - j), scale, out, o + 8 * j);
                }
                return;
            }
            FloatVector s = FloatVector.broadcast(F, scale);
            long w = word(src, p, bytes);
            for (int j = 0; j < bytes; j++) {
                int b = (int) (w >>> (8 * j) & 0xFF) * 8;
                FloatVector.fromArray(F, CodePlanes.SIGN_LUT, b).mul(s).intoArray(out, o + 8 * j);
            }
        }

        static void ternaryPlanes(MemorySegment src, long nzP, long negP, int bytes, float[] scales, float[] out, int o) {
            FloatVector two = FloatVector.broadcast(F, 2f);
            for (int j = 0; j < bytes; j++) {
                int nz = src.get(B, nzP + j) & 0xFF;
                int t = (nz & (src.get(B, negP + j) & 0xFF)) * 8;
                FloatVector code = FloatVector.fromArray(F, CodePlanes.BIT_LUT, t).neg()
                        .fma(two, FloatVector.fromArray(F, CodePlanes.BIT_LUT, nz * 8));
                code.mul(FloatVector.fromArray(F, scales, 8 * j)).intoArray(out, o + 8 * j);
            }
        }

        static void splitLut(int hiOff, int loOff, float[] scales, int sOff, float[] out, int o) {
            // lanes 0-3 from TRIT_LO, 4-7 from TRIT_HI, the other half zero: the sum is exact
            FloatVector.fromArray(F, TernaryValueCodec.TRIT_LO, loOff).add(FloatVector.fromArray(F, TernaryValueCodec.TRIT_HI, hiOff))
                    .mul(FloatVector.fromArray(F, scales, sOff)).intoArray(out, o);
        }

        /** Converts as many halves as whole vectors allow; returns how many. */
        static int halves(MemorySegment src, long off, int n, float[] out, int o) {
            int i = 0;
            for (; i + 8 <= n; i += 8) {
                ShortVector h = ShortVector.fromMemorySegment(S128, src, off + 2L * i, ByteOrder.LITTLE_ENDIAN);
                IntVector bits = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
                IntVector sign = bits.and(0x8000).lanewise(VectorOperators.LSHL, 16);
                IntVector mag = bits.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
                // Exponent rebias by multiplication: exact for normal and subnormal halves.
                FloatVector f = mag.reinterpretAsFloats().mul(0x1p112f);
                f.reinterpretAsInts().or(sign).reinterpretAsFloats().intoArray(out, o + i);
            }
            return i;
        }
    }
}
