package io.vidkv;

/**
 * When a layer's residual window hands its oldest groups to the codecs. Appends plan their pages
 * with it and the write phase quantizes by it, so the planned blocks are exactly the written ones.
 *
 * <p>The window keeps the newest R tokens in full precision; every further complete group of G
 * leaves it as one block. The first groups wait until C groups are complete (R + C x G tokens),
 * because the codecs calibrate on those C groups. The schedule depends on token counts only, so
 * {@link #groupsDue} for the window after a whole append equals the groups left over after
 * pushing its tokens one at a time: planning asks once per append, the write phase once per token.
 */
final class QuantizationSchedule {

    private final int residual;
    private final int groupSize;
    private final int calibrationGroups;

    QuantizationSchedule(LayerConfig config) {
        this.residual = config.residual();
        this.groupSize = config.groupSize();
        this.calibrationGroups = config.calibrationGroups();
    }

    /**
     * Groups that leave a window holding {@code window} tokens (none until it reaches R + C x G
     * before calibration, R + G after). Callers pass at most R + C x G plus an append's token count,
     * which the capacity check keeps within int range.
     */
    int groupsDue(int window, boolean calibrated) {
        int threshold = residual + (calibrated ? 1 : calibrationGroups) * groupSize;
        return window < threshold ? 0 : (window - residual) / groupSize;
    }

    /** Tokens the codecs calibrate on: the first C groups, all in the window when they become due. */
    int calibrationTokens() {
        return calibrationGroups * groupSize;
    }
}
