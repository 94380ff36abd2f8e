package io.vidkv;

/**
 * How VidKV ranks key channels to pick the anomalous ones (METHOD.md section 2): the paper
 * compared all three and kept {@link #RANGE}.
 */
public enum SplitMetric {
    /** max - min over the calibration tokens. */
    RANGE,
    /** variance over the calibration tokens. */
    VARIANCE,
    /** tokens whose |x| exceeds 3x the median |x| of the whole head. */
    OUTLIER_COUNT
}
