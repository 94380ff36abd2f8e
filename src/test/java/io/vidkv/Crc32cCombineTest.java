package io.vidkv;

import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@link Crc32cCombine}: the CRC32C of pieces combined equals the CRC32C of the whole, at any split. */
class Crc32cCombineTest {

    private static int crc(byte[] b, int from, int to) {
        CRC32C c = new CRC32C();
        c.update(b, from, to - from);
        return (int) c.getValue();
    }

    @Test
    void combinedPiecesEqualTheWhole() {
        SplittableRandom rnd = TestSeeds.random(14, 10);
        for (int round = 0; round < 300; round++) {
            byte[] b = new byte[rnd.nextInt(1, 70_000)];
            rnd.nextBytes(b);
            int split = rnd.nextInt(b.length + 1);
            assertEquals(crc(b, 0, b.length), Crc32cCombine.combine(crc(b, 0, split), crc(b, split, b.length), b.length - split),
                    b.length + " bytes split at " + split + TestSeeds.replay());
            int pieces = rnd.nextInt(1, 20), whole = crc(b, 0, 0);
            for (int i = 0; i < pieces; i++) {
                int from = (int) ((long) b.length * i / pieces), to = (int) ((long) b.length * (i + 1) / pieces);
                whole = Crc32cCombine.combine(whole, crc(b, from, to), to - from);
            }
            assertEquals(crc(b, 0, b.length), whole, b.length + " bytes in " + pieces + " pieces" + TestSeeds.replay());
        }
    }
}
