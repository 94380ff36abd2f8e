package io.vidkv.nativelib;

import java.lang.foreign.SymbolLookup;
import java.nio.file.Path;
import java.util.Map;

/**
 * Run in a separate JVM by {@link NativeLibraryLoaderTest}: extracts and opens every bundled
 * library into the cache directory given as the first argument, resolves a symbol of each, and
 * prints one line per library.
 */
public final class ExtractionProbe {
    public static void main(String[] args) {
        NativeLibraryLoader loader = new NativeLibraryLoader(NativeManifest.load(),
                new NativeLibraryLoader.Settings(null, Map.of(), Path.of(args[0])));
        SymbolLookup fftw = loader.open("fftw3f");
        SymbolLookup dnnl = loader.open("dnnl");
        fftw.findOrThrow("fftwf_execute_dft_r2c");
        dnnl.findOrThrow("dnnl_matmul_primitive_desc_create");
        for (LoadedLibrary lib : loader.loaded()) {
            System.out.println("loaded " + lib.file() + " " + lib.path());
        }
    }
}
