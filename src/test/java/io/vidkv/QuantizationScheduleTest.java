package io.vidkv;

import io.vidkv.testing.TestSeeds;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The schedule planning relies on: the groups due after a whole append equal the groups that leave
 * the window when its tokens are pushed one at a time, as the write phase pushes them.
 */
class QuantizationScheduleTest {

    @Test
    void firstGroupsWaitForCalibrationThenOneGroupLeavesPerGroupOfTokens() {
        QuantizationSchedule s = new QuantizationSchedule(Preset.VIDKV_15_158.layerConfig()
                .withGroupSize(32).withResidual(128).withCalibrationGroups(4));
        assertEquals(0, s.groupsDue(128 + 4 * 32 - 1, false));
        assertEquals(4, s.groupsDue(128 + 4 * 32, false));
        assertEquals(0, s.groupsDue(128 + 31, true));
        assertEquals(1, s.groupsDue(128 + 32, true));
        assertEquals(128, s.calibrationTokens());
    }

    @Test
    void groupsDueForAWholeAppendEqualTokenByToken() {
        SplittableRandom rnd = TestSeeds.random(91);
        for (int trial = 0; trial < 2000; trial++) {
            int g = 8 * (1 + rnd.nextInt(8));
            int r = rnd.nextInt(200);
            int c = 1 + rnd.nextInt(6);
            QuantizationSchedule s = new QuantizationSchedule(Preset.VIDKV_15_158.layerConfig()
                    .withGroupSize(g).withResidual(r).withCalibrationGroups(c));
            int window = 0;
            boolean calibrated = false;
            for (int append = 0; append < 5; append++) {
                int n = rnd.nextInt(3 * (r + c * g) + 2);
                int planned = s.groupsDue(window + n, calibrated);
                int pushed = 0;
                for (int t = 0; t < n; t++) {
                    window++;
                    int due = s.groupsDue(window, calibrated);
                    if (due > 0) {
                        calibrated = true;
                        window -= due * g;
                        pushed += due;
                    }
                }
                assertEquals(planned, pushed, "G=" + g + " R=" + r + " C=" + c + " append " + append + " of " + n);
            }
        }
    }
}
