package io.vidkv;

/**
 * How VidKV ranks key channels to pick the anomalous ones (METHOD.md section 2): the paper
 * compared all three and kept {@link #RANGE}. The top {@code round((keyBits - 1) * d)} channels by
 * the metric become anomalous (ties to the lower channel index); the statistics are taken over the
 * calibration tokens, or over each block's tokens with {@link KeySpec#splitPerGroup()}. Used by
 * {@link KeySpec.Kind#VIDKV} keys only.
 */
public enum SplitMetric {
    /** max - min over the calibration tokens (the default, and the paper's choice). */
    RANGE,
    /** variance over the calibration tokens. */
    VARIANCE,
    /** tokens whose |x| exceeds 3x the median |x| of the whole head. */
    OUTLIER_COUNT
}
