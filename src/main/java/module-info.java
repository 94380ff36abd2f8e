/**
 * vidkv: an off-heap, 1.x-bit KV cache for video LLM inference with attention on the packed codes.
 *
 * <p>Grant native access by module name: {@code --enable-native-access=io.vidkv}. The native
 * libraries come from the Maven Central carrier jars (org.bytedeco fftw, dnnl, opencl, classifier
 * linux-x86_64). Put those jars on the class path, also when vidkv itself is on the module path:
 * their module descriptors require the JNI preset modules, which vidkv never uses.
 */
module io.vidkv {
    requires jdk.incubator.vector;
    requires info.picocli;
    requires jdk.management;
    requires jdk.jfr;
    requires java.desktop;
    requires com.fasterxml.jackson.databind;
    requires org.jfree.jfreechart;
    requires me.tongfei.progressbar;

    exports io.vidkv;
    exports io.vidkv.codec;
    exports io.vidkv.eval;
    exports io.vidkv.jfr;
    exports io.vidkv.replay;
    exports io.vidkv.nativelib;
    exports io.vidkv.kernel;

    opens io.vidkv.cli to info.picocli;
}
