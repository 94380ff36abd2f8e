package io.vidkv;

/**
 * The CRC32C of two byte runs end to end from the CRC32C of each and the second one's length, so
 * that a long snapshot section is verified in parallel pieces while its checksum stays the CRC32C of
 * its bytes (the format unchanged). zlib's {@code crc32_combine} over the Castagnoli polynomial:
 * appending n zero bytes to a CRC is linear over GF(2), a 32 x 32 bit matrix raised to the power n
 * by squaring (log n squarings), then the second CRC is xored in.
 */
final class Crc32cCombine {

    /** The reflected Castagnoli polynomial. */
    private static final int POLY = 0x82F63B78;

    private Crc32cCombine() {
    }

    /** CRC32C of A then B, from {@code crcA}, {@code crcB} and B's length in bytes. */
    static int combine(int crcA, int crcB, long lengthB) {
        if (lengthB <= 0) {
            return crcA;
        }
        int[] even = new int[32]; // the operator for an even power of two zero bits
        int[] odd = new int[32];
        odd[0] = POLY; // the operator for one zero bit
        int row = 1;
        for (int n = 1; n < 32; n++) {
            odd[n] = row;
            row <<= 1;
        }
        square(even, odd); // two zero bits
        square(odd, even); // four zero bits
        int crc = crcA;
        long len = lengthB;
        do { // the first square gives one zero byte; each further one doubles it
            square(even, odd);
            if ((len & 1) != 0) {
                crc = times(even, crc);
            }
            len >>>= 1;
            if (len == 0) {
                break;
            }
            square(odd, even);
            if ((len & 1) != 0) {
                crc = times(odd, crc);
            }
            len >>>= 1;
        } while (len != 0);
        return crc ^ crcB;
    }

    private static int times(int[] mat, int vec) {
        int sum = 0;
        for (int i = 0; vec != 0; i++, vec >>>= 1) {
            if ((vec & 1) != 0) {
                sum ^= mat[i];
            }
        }
        return sum;
    }

    private static void square(int[] out, int[] mat) {
        for (int n = 0; n < 32; n++) {
            out[n] = times(mat, mat[n]);
        }
    }
}
