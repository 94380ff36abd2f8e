/**
 * vidkv: an off-heap, 1.x-bit KV cache for video LLM inference with attention on the packed codes.
 *
 * <p>The API is two packages: {@link io.vidkv} (the cache, its configuration and reports) and
 * {@link io.vidkv.kernel} (decode and prefill attention on the cache). Everything else (codecs, block
 * layouts, kernel bodies, the FFTW and oneDNN wrappers, the generated bindings, JFR events) is
 * internal; the tools module {@code io.vidkv.tools} sees the native wrappers for its self-check.
 *
 * <p>Run with {@code --add-modules jdk.incubator.vector} (needed on the class path; on the module
 * path this module's {@code requires} loads it) and native access granted:
 * {@code --enable-native-access=io.vidkv} on the module path, {@code ALL-UNNAMED} on the class path.
 * Without either, vidkv logs one warning naming the flag. The native libraries come from the Maven
 * Central carrier jars (org.bytedeco fftw, dnnl, opencl, classifier linux-x86_64). Put those jars on
 * the class path, also when vidkv itself is on the module path: their module descriptors require the
 * JNI preset modules, which vidkv never uses.
 */
module io.vidkv {
    requires jdk.incubator.vector;
    requires jdk.jfr;

    exports io.vidkv;
    exports io.vidkv.kernel;
    exports io.vidkv.nativelib to io.vidkv.tools;
}
