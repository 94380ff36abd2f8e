package io.vidkv.nativelib;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NativeLibraryLoaderTest {

    @Test
    void wrongOverrideDirectoryNamesLibraryPathAndFix(@TempDir Path empty) {
        NativeLibraryLoader loader = new NativeLibraryLoader(NativeManifest.load(),
                new NativeLibraryLoader.Settings(empty.resolve("nowhere").toString(), Map.of(), empty));
        NativeLibraryException e = assertThrows(NativeLibraryException.class, () -> loader.open("fftw3f"));
        String msg = e.getMessage();
        assertTrue(msg.contains("libfftw3f.so.3"), msg);
        assertTrue(msg.contains(empty.resolve("nowhere").resolve("libfftw3f.so.3").toString()), msg);
        assertTrue(msg.contains("-Dvidkv.native.path=DIR") && msg.contains("VIDKV_NATIVE_PATH"), msg);
    }

    @Test
    void wrongPerLibraryOverrideIsReported(@TempDir Path dir) {
        NativeLibraryLoader loader = new NativeLibraryLoader(NativeManifest.load(),
                new NativeLibraryLoader.Settings(null, Map.of("fftw3f", dir.resolve("libfoo.so").toString()), dir));
        NativeLibraryException e = assertThrows(NativeLibraryException.class, () -> loader.open("fftw3f"));
        assertTrue(e.getMessage().contains("vidkv.native.fftw3f.path") && e.getMessage().contains("not a file"), e.getMessage());
    }

    @Test
    void brokenLibraryFileIsReportedByTheLinker(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("libfftw3f.so.3"), "not an ELF file");
        NativeLibraryLoader loader = new NativeLibraryLoader(NativeManifest.load(),
                new NativeLibraryLoader.Settings(dir.toString(), Map.of(), dir));
        NativeLibraryException e = assertThrows(NativeLibraryException.class, () -> loader.open("fftw3f"));
        assertTrue(e.getMessage().contains("could not open") && e.getMessage().contains("libfftw3f.so.3"), e.getMessage());
    }

    @Test
    void missingCarrierResourceNamesTheCarrier(@TempDir Path dir) {
        Properties p = manifestWith("org/bytedeco/fftw/linux-x86_64/libmissing.so.9", "00".repeat(32), 10);
        NativeLibraryLoader loader = new NativeLibraryLoader(NativeManifest.parse(p),
                new NativeLibraryLoader.Settings(null, Map.of(), dir));
        NativeLibraryException e = assertThrows(NativeLibraryException.class, () -> loader.open("x"));
        assertTrue(e.getMessage().contains("libmissing.so.9") && e.getMessage().contains("org.example:carrier:1.0"), e.getMessage());
    }

    @Test
    void checksumMismatchIsRejectedAndNothingIsLeftUnderTheFinalName(@TempDir Path dir) throws IOException {
        NativeManifest.Entry real = NativeManifest.load().entry("fftw3f");
        Properties p = manifestWith(real.resource(), "ab".repeat(32), real.size());
        NativeLibraryLoader loader = new NativeLibraryLoader(NativeManifest.parse(p),
                new NativeLibraryLoader.Settings(null, Map.of(), dir));
        NativeLibraryException e = assertThrows(NativeLibraryException.class, () -> loader.open("x"));
        assertTrue(e.getMessage().contains("do not match natives.properties"), e.getMessage());
        try (var files = Files.walk(dir)) {
            assertEquals(0, files.filter(Files::isRegularFile).count(), "no file may remain after a failed extraction");
        }
    }

    @Test
    void extractsOnceIntoContentKeyedDirectoryAndReuses(@TempDir Path dir) throws IOException {
        NativeLibraryLoader loader = new NativeLibraryLoader(NativeManifest.load(),
                new NativeLibraryLoader.Settings(null, Map.of(), dir));
        loader.open("fftw3f").findOrThrow("fftwf_plan_many_dft_r2c");
        Path extracted = loader.loaded().getFirst().path();
        assertEquals(loader.extractionDirectory(), extracted.getParent());
        assertTrue(extracted.getParent().getFileName().toString().startsWith("linux-x86_64-"));
        long modified = Files.getLastModifiedTime(extracted).toMillis();
        NativeLibraryLoader again = new NativeLibraryLoader(NativeManifest.load(),
                new NativeLibraryLoader.Settings(null, Map.of(), dir));
        again.open("fftw3f");
        assertEquals(modified, Files.getLastModifiedTime(again.loaded().getFirst().path()).toMillis(), "must reuse, not rewrite");
    }

    /** Two JVMs extract and open everything into the same empty cache at the same time. */
    @Test
    void twoJvmsExtractingAtOnceBothSucceed(@TempDir Path cache) throws Exception {
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<Process> procs = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            procs.add(new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                    System.getProperty("java.class.path"), ExtractionProbe.class.getName(), cache.toString())
                    .redirectErrorStream(true).start());
        }
        List<String> outputs = new ArrayList<>();
        for (Process p : procs) {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child JVM hung");
            assertEquals(0, p.exitValue(), "child JVM failed:\n" + out);
            outputs.add(out);
        }
        assertEquals(outputs.get(0), outputs.get(1));
        assertTrue(outputs.get(0).contains("libdnnl.so.3") && outputs.get(0).contains("libgomp.so.1"), outputs.get(0));
        NativeManifest manifest = NativeManifest.load();
        Path dir = new NativeLibraryLoader(manifest, new NativeLibraryLoader.Settings(null, Map.of(), cache)).extractionDirectory();
        for (NativeManifest.Entry e : manifest.entries().values()) {
            assertEquals(e.size(), Files.size(dir.resolve(e.file())), e.file());
        }
        try (var files = Files.list(dir)) {
            assertEquals(manifest.entries().size(), files.count(), "temporary files were left behind");
        }
    }

    @Test
    void loadingRecordsAJfrEvent(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("load.jfr");
        try (jdk.jfr.Recording rec = new jdk.jfr.Recording()) {
            rec.enable("io.vidkv.NativeLibraryLoaded");
            rec.start();
            new NativeLibraryLoader(NativeManifest.load(), new NativeLibraryLoader.Settings(null, Map.of(), dir)).open("fftw3f");
            rec.stop();
            rec.dump(file);
        }
        // only this event type: a recording's file also holds what other recordings running at the same
        // time enabled (a JVM started with -XX:StartFlightRecording)
        List<jdk.jfr.consumer.RecordedEvent> events = jdk.jfr.consumer.RecordingFile.readAllEvents(file).stream()
                .filter(e -> e.getEventType().getName().equals("io.vidkv.NativeLibraryLoaded")).toList();
        assertEquals(1, events.size());
        assertEquals("libfftw3f.so.3", events.getFirst().getString("library"));
        assertEquals("BUNDLED", events.getFirst().getString("source"));
        assertTrue(events.getFirst().getString("path").startsWith(dir.toString()));
    }

    @Test
    void processWideLoaderReportsBundledLibraries() {
        NativeLibraries.fftw3f();
        NativeLibraries.dnnl();
        List<String> files = NativeLibraries.loaded().stream().map(LoadedLibrary::file).toList();
        assertTrue(files.containsAll(List.of("libfftw3f.so.3", "libdnnl.so.3", "libgomp.so.1", "libOpenCL.so.1")), files.toString());
    }

    private static Properties manifestWith(String resource, String sha, long size) {
        Properties p = new Properties();
        p.setProperty("platform", "linux-x86_64");
        p.setProperty("libraries", "x");
        p.setProperty("x.file", "libx.so.1");
        p.setProperty("x.resource", resource);
        p.setProperty("x.sha256", sha);
        p.setProperty("x.size", Long.toString(size));
        p.setProperty("x.carrier", "org.example:carrier:1.0");
        return p;
    }
}
