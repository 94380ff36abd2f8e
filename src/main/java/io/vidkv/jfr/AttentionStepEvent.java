package io.vidkv.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * One decode attention step of one layer (all query heads). Committed from a small static method
 * with the step's measured time as a field, so the JIT scalar-replaces the event object and a
 * recording adds no heap allocation to the decode step.
 */
@Name("io.vidkv.AttentionStep")
@Label("Attention Step")
@Category({"vidkv", "Attention"})
@Description("Decode attention of one layer over the packed cache")
@StackTrace(false)
public final class AttentionStepEvent extends jdk.jfr.Event {
    @Label("Layer")
    public int layer;
    @Label("Context Length")
    public int contextLength;
    @Label("Preset")
    public String preset;
    @Label("Step Time")
    @jdk.jfr.Timespan
    public long stepTime;

    /** Records one step if a recording wants it. */
    public static void record(int layer, int contextLength, String preset, long nanos) {
        if (!JfrGate.attentionStep) {
            return;
        }
        AttentionStepEvent e = new AttentionStepEvent();
        if (e.shouldCommit()) {
            e.layer = layer;
            e.contextLength = contextLength;
            e.preset = preset;
            e.stepTime = nanos;
            e.commit();
        }
    }
}
