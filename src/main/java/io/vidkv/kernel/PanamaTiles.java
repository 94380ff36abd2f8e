package io.vidkv.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static io.vidkv.kernel.KernelMath.LANES;

/**
 * The prefill tile kernels of {@link PanamaKernelMath}: one block's codes into the native tile that
 * oneDNN multiplies, token-major, eight rows or channels per 256-bit int vector. Pages are read with
 * scalar loads only (see {@link KernelMath#vidkvKeyTile32}); the remainders call the plain-Java body's loops.
 */
final class PanamaTiles {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    private static final int L = LANES;

    private PanamaTiles() {
    }

    private static FloatVector at(float[] a, int i) {
        return FloatVector.fromArray(F, a, i);
    }

    static void vidkvKeyTile32(MemorySegment seg, long codes, int a, int n, float[] scales, float[] zeros, int[] words,
                               MemorySegment tile, long dst, int d) {
        // eight bit rows are eight int lanes; per token one shift picks every row's bit t. The rows
        // are read from the page with scalar loads (see KernelMath: no vector load from a page).
        for (int i = 0; i < 2 * a + n; i++) {
            words[i] = seg.get(ScalarKernelMath.INT_LE, codes + 4L * i);
        }
        int r = 0;
        for (; r + L <= a; r += L) {
            IntVector lo = IntVector.fromArray(I, words, r);
            IntVector hi = IntVector.fromArray(I, words, a + r);
            FloatVector sc = at(scales, r), z = at(zeros, r);
            for (int t = 0; t < 32; t++) {
                IntVector code = lo.lanewise(VectorOperators.LSHR, t).and(1)
                        .add(hi.lanewise(VectorOperators.LSHR, t).and(1).lanewise(VectorOperators.LSHL, 1));
                sc.fma((FloatVector) code.convert(VectorOperators.I2F, 0), z)
                        .intoMemorySegment(tile, dst + 4L * (t * d + r), ByteOrder.nativeOrder());
            }
        }
        ScalarKernelMath.anomalousTileRows(seg, codes, a, r, scales, zeros, tile, dst, d); // beyond the last whole eight
        int j = 0;
        for (; j + L <= n; j += L) {
            IntVector signs = IntVector.fromArray(I, words, 2 * a + j);
            FloatVector sc = at(scales, a + j);
            for (int t = 0; t < 32; t++) {
                VectorMask<Float> plus = signs.lanewise(VectorOperators.LSHR, t).and(1)
                        .compare(VectorOperators.NE, 0).cast(F);
                sc.neg().blend(sc, plus).intoMemorySegment(tile, dst + 4L * (t * d + a + j), ByteOrder.nativeOrder());
            }
        }
        ScalarKernelMath.componentTileRows(seg, codes, a, n, j, scales, tile, dst, d);
    }

    static void ternaryTile32(MemorySegment seg, long codes, long tail, float[] scales, int[] bytes, MemorySegment tile,
                              long dst, int d) {
        // the code bytes transposed to [byte][channel] ints first, so that eight channels' byte i is
        // one contiguous int vector
        for (int c = 0; c < d; c++) {
            for (int i = 0; i < 6; i++) {
                bytes[i * d + c] = seg.get(ValueLayout.JAVA_BYTE, codes + 6L * c + i) & 0xFF;
            }
            bytes[6 * d + c] = seg.get(ValueLayout.JAVA_BYTE, tail + c / 2) >>> 4 * (c & 1) & 0xF;
        }
        for (int c = 0; c < d; c += L) {
            FloatVector sc = at(scales, c);
            for (int i = 0; i < 7; i++) {
                IntVector v = IntVector.fromArray(I, bytes, i * d + c);
                for (int k = 0; k < (i < 6 ? 5 : 2); k++) {
                    IntVector q = v.mul(171).lanewise(VectorOperators.LSHR, 9); // v / 3 for v < 256
                    IntVector digit = v.sub(q.mul(3));
                    v = q;
                    IntVector trit = digit.sub(digit.lanewise(VectorOperators.LSHR, 1).mul(3));
                    sc.mul((FloatVector) trit.convert(VectorOperators.I2F, 0))
                            .intoMemorySegment(tile, dst + 4L * ((5 * i + k) * d + c), ByteOrder.nativeOrder());
                }
            }
        }
    }
}
