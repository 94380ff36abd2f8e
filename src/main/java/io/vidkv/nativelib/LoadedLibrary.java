package io.vidkv.nativelib;

import java.nio.file.Path;

/**
 * One opened native library, as reported by {@link NativeLibraries#loaded()}.
 *
 * @param id      the manifest id ({@code fftw3f}, {@code dnnl}, ...)
 * @param file    the file name, e.g. {@code libdnnl.so.3}
 * @param version what the manifest says the file is (e.g. "oneDNN 3.8.1")
 * @param path    the file that was opened; for {@link Source#SYSTEM} the name given to the
 *                dynamic linker
 * @param source  where it came from
 */
public record LoadedLibrary(String id, String file, String version, Path path, Source source) {

    /** Where a library was opened from. */
    public enum Source {
        /** Extracted from its Maven Central carrier jar into the per-user cache. */
        BUNDLED,
        /** A directory or file named by the override property or environment variable. */
        OVERRIDE,
        /** Found by the system's dynamic linker search path (override value {@code system}). */
        SYSTEM
    }
}
