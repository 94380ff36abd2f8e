package io.vidkv;

import io.vidkv.kernel.DecodeAttention;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A JVM started without vidkv's flags says, once each, which flag is missing: the kernels would
 * otherwise run several times slower without a word. Runs {@link Main} in child JVMs on this test's
 * class path.
 */
class StartupWarningsTest {

    /** Builds a cache and a decode kernel (which opens FFTW), attends once, and prints the kernel body. */
    public static final class Main {
        public static void main(String[] args) {
            ModelShape shape = new ModelShape(1, 2, 1, 64);
            try (KvCache cache = KvCache.create(shape, CacheConfig.of(shape, Preset.VIDKV_15_158));
                 DecodeAttention attention = new DecodeAttention(cache, null)) {
                System.out.println("kernel body: " + DecodeAttention.kernelBody());
            }
        }
    }

    private static String run(String... jvmFlags) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of(jvmFlags));
        cmd.add("-Dvidkv.native.cache=" + System.getProperty("vidkv.native.cache", System.getProperty("java.io.tmpdir")));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM did not finish");
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    private static int count(String text, String what) {
        int n = 0;
        for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    @Test
    void withoutFlagsEachMissingFlagIsNamedOnce() throws Exception {
        String out = run();
        assertEquals(1, count(out, "add --enable-native-access=ALL-UNNAMED to the JVM flags"), out);
        assertEquals(1, count(out, "Add --add-modules jdk.incubator.vector to the JVM flags"), out);
        assertTrue(out.contains("kernel body: plain Java"), out);
    }

    @Test
    void withTheFlagsNothingIsSaid() throws Exception {
        String out = run("--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector");
        assertFalse(out.contains("vidkv:"), out);
        assertTrue(out.contains("kernel body: Vector API"), out);
    }

    @Test
    void choosingThePlainJavaBodyIsNotWarnedAbout() throws Exception {
        String out = run("--enable-native-access=ALL-UNNAMED", "-Dvidkv.vector=false");
        assertFalse(out.contains("vidkv:"), out);
        assertTrue(out.contains("kernel body: plain Java"), out);
    }
}
