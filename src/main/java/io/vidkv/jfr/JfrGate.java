package io.vidkv.jfr;

import jdk.jfr.FlightRecorder;
import jdk.jfr.FlightRecorderListener;
import jdk.jfr.Recording;
import jdk.jfr.RecordingState;

/**
 * Whether any running JFR recording enables vidkv's hot events, kept in plain static flags so the
 * decode and append paths test one boolean and create no event object when nothing records them
 * (escape analysis would usually remove the object, but not in every compilation state). Updated by
 * a {@link FlightRecorderListener} whenever a recording starts or stops; never initializes JFR itself.
 */
public final class JfrGate {

    static volatile boolean attentionStep;
    static volatile boolean blockQuantized;
    static volatile boolean page;

    static {
        FlightRecorder.addListener(new FlightRecorderListener() {
            @Override
            public void recordingStateChanged(Recording recording) {
                update();
            }
        });
        if (FlightRecorder.isInitialized()) {
            update();
        }
    }

    private JfrGate() {
    }

    private static synchronized void update() {
        boolean step = false, block = false, pg = false;
        for (Recording r : FlightRecorder.getFlightRecorder().getRecordings()) {
            if (r.getState() != RecordingState.RUNNING) {
                continue;
            }
            step |= "true".equals(r.getSettings().get("io.vidkv.AttentionStep#enabled"));
            block |= "true".equals(r.getSettings().get("io.vidkv.BlockQuantized#enabled"));
            pg |= "true".equals(r.getSettings().get("io.vidkv.Page#enabled"));
        }
        attentionStep = step;
        blockQuantized = block;
        page = pg;
    }
}
