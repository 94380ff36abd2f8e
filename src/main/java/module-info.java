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
    requires jdk.jfr;

    exports io.vidkv;
    exports io.vidkv.codec;
    exports io.vidkv.kernel;
    exports io.vidkv.jfr;
    exports io.vidkv.nativelib to io.vidkv.tools;
}
