package io.vidkv.nativelib;

import java.lang.foreign.SymbolLookup;
import java.util.List;

/**
 * The process-wide native libraries: FFTW (single precision) and oneDNN, opened on first use
 * from the settings in the system properties and environment (see {@link NativeLibraryLoader}
 * for the search order and the override names).
 *
 * <p>The generated bindings in {@code bindings/} resolve their symbols through {@link #fftw3f()}
 * and {@link #dnnl()}: {@code scripts/generate-bindings.sh} points them here.
 */
public final class NativeLibraries {

    private static final Object LOCK = new Object();
    private static volatile NativeLibraryLoader loader;

    private NativeLibraries() {
    }

    /** Symbols of {@code libfftw3f.so.3}. */
    public static SymbolLookup fftw3f() {
        return loader().open("fftw3f");
    }

    /** Symbols of {@code libdnnl.so.3} (its OpenMP and OpenCL dependencies are opened first). */
    public static SymbolLookup dnnl() {
        return loader().open("dnnl");
    }

    /** The libraries opened so far, dependencies first. */
    public static List<LoadedLibrary> loaded() {
        return loader().loaded();
    }

    private static NativeLibraryLoader loader() {
        NativeLibraryLoader l = loader;
        if (l == null) {
            synchronized (LOCK) {
                l = loader;
                if (l == null) {
                    warnIfNativeAccessDenied();
                    l = new NativeLibraryLoader(NativeManifest.load(), NativeLibraryLoader.Settings.fromEnvironment());
                    loader = l;
                }
            }
        }
        return l;
    }

    /**
     * Once per process, before the first library is opened: without native access granted the JDK
     * prints its own generic warning on the first restricted call (and a future JDK will refuse the
     * call), so say which flag vidkv needs, in the form that matches how it was loaded.
     */
    private static void warnIfNativeAccessDenied() {
        Module m = NativeLibraries.class.getModule();
        if (m.isNativeAccessEnabled()) {
            return;
        }
        String flag = m.isNamed() ? "--enable-native-access=" + m.getName() : "--enable-native-access=ALL-UNNAMED";
        System.getLogger("io.vidkv").log(System.Logger.Level.WARNING,
                "vidkv: FFTW and oneDNN are called through the FFM API, but native access is not enabled for "
                        + (m.isNamed() ? "module " + m.getName() : "the class path") + ": add " + flag
                        + " to the JVM flags (or Enable-Native-Access to the launching jar's manifest)");
    }
}
