/**
 * vidkv's tools: the {@code vidkv} command line ({@code io.vidkv.cli}), the evaluation of presets
 * on synthetic and real K/V data with its reports and charts ({@code io.vidkv.eval}), and the
 * replay and soak drivers ({@code io.vidkv.replay}). Not a library API: inference engines depend on
 * module {@code io.vidkv} alone.
 */
module io.vidkv.tools {
    requires io.vidkv;
    requires info.picocli;
    requires jdk.management;
    requires jdk.jfr;
    requires java.desktop;
    requires com.fasterxml.jackson.databind;
    requires org.jfree.jfreechart;
    requires me.tongfei.progressbar;

    opens io.vidkv.cli to info.picocli;
    // the soak report's records are written by Jackson's bean serializer (reflection)
    opens io.vidkv.replay to com.fasterxml.jackson.databind;
}
