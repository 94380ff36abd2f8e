package io.vidkv.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * One group of G tokens of one (layer, KV head) quantized into a block. Hot during prefill (one per
 * 32 tokens per head), so it is sampled by time: {@link #record} commits only blocks slower than
 * {@link #setThresholdNanos} (1 ms by default; {@code -Dvidkv.jfr.blockThresholdNanos=0} records all). The time is
 * a field, and the event is built in a small static method so that the JIT scalar-replaces it.
 */
@Name("io.vidkv.BlockQuantized")
@Label("Block Quantized")
@Category({"vidkv", "Cache"})
@Description("A group of tokens of one layer and KV head quantized into a block")
@StackTrace(false)
public final class BlockQuantizedEvent extends jdk.jfr.Event {
    @Label("Layer")
    public int layer;
    @Label("KV Head")
    public int head;
    @Label("Preset")
    public String preset;
    @Label("Tokens")
    public int tokens;
    @Label("Quantize Time")
    @jdk.jfr.Timespan
    public long quantizeTime;

    private static volatile long thresholdNanos = Long.getLong("vidkv.jfr.blockThresholdNanos", 1_000_000L);

    /** Blocks faster than this are not recorded (default 1 ms, or -Dvidkv.jfr.blockThresholdNanos). */
    public static void setThresholdNanos(long nanos) {
        thresholdNanos = nanos;
    }

    /** Records one block if it was slow enough and a recording wants it. */
    public static void record(int layer, int head, String preset, int tokens, long nanos) {
        if (nanos < thresholdNanos || !JfrGate.blockQuantized) {
            return;
        }
        BlockQuantizedEvent e = new BlockQuantizedEvent();
        if (e.shouldCommit()) {
            e.layer = layer;
            e.head = head;
            e.preset = preset;
            e.tokens = tokens;
            e.quantizeTime = nanos;
            e.commit();
        }
    }
}
