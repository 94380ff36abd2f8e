package io.vidkv.nativelib;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Finds, extracts, verifies and opens the native libraries named in {@link NativeManifest}.
 *
 * <p>Where a library comes from, in order:
 * <ol>
 *   <li>{@code -Dvidkv.native.<id>.path=FILE} (or {@code VIDKV_NATIVE_<ID>_PATH}): that exact file;
 *   <li>{@code -Dvidkv.native.path=DIR} (or {@code VIDKV_NATIVE_PATH}): {@code DIR/<file>} for every
 *       library; the value {@code system} instead asks the system's dynamic linker by file name;
 *   <li>otherwise the copy inside its Maven Central carrier jar, extracted once into
 *       {@code <cache>/<platform>-<hash>/} where {@code <hash>} is derived from the pinned SHA-256
 *       of every library, so a new library version never reuses an old directory. The cache is
 *       {@code -Dvidkv.native.cache}, {@code VIDKV_NATIVE_CACHE}, {@code $XDG_CACHE_HOME/vidkv/native}
 *       or {@code ~/.cache/vidkv/native}.
 * </ol>
 *
 * <p>Extraction is safe when several processes start at once: each writes to its own temporary
 * name, checks size and SHA-256 while writing, then atomically renames onto the final name; a file
 * under the final name is therefore always complete and verified. Dependencies sit in the same
 * directory (libdnnl.so.3 has RUNPATH $ORIGIN) and are opened before the library that needs them.
 *
 * <p>Libraries are opened into the global arena and never unloaded: oneDNN keeps OpenMP worker
 * threads alive, and unmapping their code would crash the process.
 */
final class NativeLibraryLoader {

    static final String PATH_PROPERTY = "vidkv.native.path";
    static final String PATH_ENV = "VIDKV_NATIVE_PATH";
    static final String CACHE_PROPERTY = "vidkv.native.cache";
    static final String CACHE_ENV = "VIDKV_NATIVE_CACHE";
    static final String SYSTEM = "system";

    /** Where to look; {@code override} and per-library overrides may be null. */
    record Settings(String override, Map<String, String> perLibrary, Path cacheRoot) {

        static Settings fromEnvironment() {
            Map<String, String> per = new LinkedHashMap<>();
            for (String id : List.of("gomp", "opencl", "dnnl", "fftw3f")) {
                String v = firstNonBlank(System.getProperty("vidkv.native." + id + ".path"),
                        System.getenv("VIDKV_NATIVE_" + id.toUpperCase(java.util.Locale.ROOT) + "_PATH"));
                if (v != null) {
                    per.put(id, v);
                }
            }
            return new Settings(firstNonBlank(System.getProperty(PATH_PROPERTY), System.getenv(PATH_ENV)),
                    Map.copyOf(per), defaultCacheRoot());
        }

        private static Path defaultCacheRoot() {
            String explicit = firstNonBlank(System.getProperty(CACHE_PROPERTY), System.getenv(CACHE_ENV));
            if (explicit != null) {
                return Path.of(explicit);
            }
            String xdg = System.getenv("XDG_CACHE_HOME");
            if (xdg != null && !xdg.isBlank()) {
                return Path.of(xdg, "vidkv", "native");
            }
            return Path.of(System.getProperty("user.home"), ".cache", "vidkv", "native");
        }

        private static String firstNonBlank(String a, String b) {
            if (a != null && !a.isBlank()) {
                return a.strip();
            }
            return b != null && !b.isBlank() ? b.strip() : null;
        }
    }

    private final NativeManifest manifest;
    private final Settings settings;
    private final Map<String, LoadedLibrary> loaded = new LinkedHashMap<>();
    private final Map<String, SymbolLookup> lookups = new LinkedHashMap<>();

    NativeLibraryLoader(NativeManifest manifest, Settings settings) {
        this.manifest = manifest;
        this.settings = settings;
    }

    /** Opens library {@code id} and its dependencies (once); thread-safe. */
    synchronized SymbolLookup open(String id) {
        SymbolLookup done = lookups.get(id);
        if (done != null) {
            return done;
        }
        NativeManifest.Entry e = manifest.entry(id);
        for (String dep : e.depends()) {
            open(dep);
        }
        LoadedLibrary lib = locate(e);
        SymbolLookup lookup;
        try {
            lookup = SymbolLookup.libraryLookup(lib.source() == LoadedLibrary.Source.SYSTEM
                    ? lib.path().toString() : lib.path().toAbsolutePath().toString(), Arena.global());
        } catch (IllegalArgumentException ex) {
            throw failure(e, "the dynamic linker could not open " + lib.path() + " (" + ex.getMessage() + ")", ex);
        }
        loaded.put(id, lib);
        lookups.put(id, lookup);
        io.vidkv.jfr.NativeLibraryLoadedEvent ev = new io.vidkv.jfr.NativeLibraryLoadedEvent();
        if (ev.shouldCommit()) {
            ev.library = lib.file();
            ev.version = lib.version();
            ev.path = lib.path().toString();
            ev.source = lib.source().name();
            ev.commit();
        }
        return lookup;
    }

    synchronized List<LoadedLibrary> loaded() {
        return List.copyOf(loaded.values());
    }

    /** The directory bundled libraries are extracted to. */
    Path extractionDirectory() {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (NativeManifest.Entry e : manifest.entries().values().stream()
                    .sorted(java.util.Comparator.comparing(NativeManifest.Entry::id)).toList()) {
                md.update((e.id() + "=" + e.sha256() + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
            String key = HexFormat.of().formatHex(md.digest()).substring(0, 16);
            return settings.cacheRoot().resolve(manifest.platform() + "-" + key);
        } catch (NoSuchAlgorithmException ex) {
            throw new AssertionError("SHA-256 is a required JDK algorithm", ex);
        }
    }

    private LoadedLibrary locate(NativeManifest.Entry e) {
        String perLib = settings.perLibrary().get(e.id());
        if (perLib != null) {
            Path p = Path.of(perLib);
            if (!Files.isRegularFile(p)) {
                throw failure(e, "the override vidkv.native." + e.id() + ".path names " + p.toAbsolutePath()
                        + ", which is not a file", null);
            }
            return new LoadedLibrary(e.id(), e.file(), e.version(), p, LoadedLibrary.Source.OVERRIDE);
        }
        String override = settings.override();
        if (override != null) {
            if (SYSTEM.equalsIgnoreCase(override)) {
                return new LoadedLibrary(e.id(), e.file(), e.version(), Path.of(e.file()), LoadedLibrary.Source.SYSTEM);
            }
            Path p = Path.of(override).resolve(e.file());
            if (!Files.isRegularFile(p)) {
                throw failure(e, "the override " + PATH_PROPERTY + "=" + override + " has no file " + p.toAbsolutePath(), null);
            }
            return new LoadedLibrary(e.id(), e.file(), e.version(), p, LoadedLibrary.Source.OVERRIDE);
        }
        return new LoadedLibrary(e.id(), e.file(), e.version(), extract(e), LoadedLibrary.Source.BUNDLED);
    }

    private Path extract(NativeManifest.Entry e) {
        Path dir = extractionDirectory();
        Path target = dir.resolve(e.file());
        try {
            // A file under the final name was verified before its atomic rename.
            if (Files.isRegularFile(target) && Files.size(target) == e.size()) {
                return target;
            }
            Files.createDirectories(dir);
        } catch (IOException ex) {
            throw failure(e, "cannot create the cache directory " + dir + " (" + ex + ")", ex);
        }
        ClassLoader cl = NativeLibraryLoader.class.getClassLoader();
        Path tmp = dir.resolve("." + e.file() + "." + ProcessHandle.current().pid() + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        try (InputStream in = cl.getResourceAsStream(e.resource())) {
            if (in == null) {
                throw failure(e, "the class path has no resource " + e.resource()
                        + " (is the carrier jar " + e.carrier() + " a runtime dependency?)", null);
            }
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            long written;
            try (OutputStream out = new DigestOutputStream(Files.newOutputStream(tmp), md)) {
                written = in.transferTo(out);
            }
            String sha = HexFormat.of().formatHex(md.digest());
            if (written != e.size() || !sha.equalsIgnoreCase(e.sha256())) {
                throw failure(e, "the bytes of " + e.resource() + " in " + e.carrier() + " do not match natives.properties"
                        + " (size " + written + " vs " + e.size() + ", sha256 " + sha + " vs " + e.sha256() + ")", null);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException ex) {
                throw failure(e, "the cache directory " + dir + " does not support atomic rename", ex);
            }
            return target;
        } catch (IOException | NoSuchAlgorithmException ex) {
            throw failure(e, "extracting " + e.resource() + " to " + target + " failed (" + ex + ")", ex);
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // a stale temporary name is harmless: it never matches a final name
            }
        }
    }

    private NativeLibraryException failure(NativeManifest.Entry e, String what, Throwable cause) {
        List<String> looked = new ArrayList<>();
        if (settings.perLibrary().containsKey(e.id())) {
            looked.add("override vidkv.native." + e.id() + ".path=" + settings.perLibrary().get(e.id()));
        } else if (settings.override() != null) {
            looked.add("override " + PATH_PROPERTY + "=" + settings.override());
        } else {
            looked.add("class path resource " + e.resource() + " from " + e.carrier());
            looked.add("cache " + extractionDirectory());
        }
        String msg = "Cannot load native library " + e.file() + " (" + e.version() + "): " + what + ". Looked at: "
                + String.join("; ", looked) + ". To use other copies set -D" + PATH_PROPERTY + "=DIR or "
                + PATH_ENV + "=DIR (a directory holding " + e.file() + " and its dependencies), "
                + PATH_PROPERTY + "=" + SYSTEM + " for the system's libraries, or -Dvidkv.native." + e.id()
                + ".path=FILE for this library alone; -D" + CACHE_PROPERTY + "=DIR moves the extraction cache.";
        return new NativeLibraryException(msg, cause);
    }
}
