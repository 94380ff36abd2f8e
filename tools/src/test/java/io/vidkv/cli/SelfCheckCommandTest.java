package io.vidkv.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SelfCheckCommandTest {

    @Test
    void selfCheckRunsBothNativePathsAndReportsWhatItLoaded() {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            code = new CommandLine(new VidkvCommand()).execute("selfcheck", "--fft-batch", "64", "--context", "300");
        } finally {
            System.setOut(old);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, out);
        assertTrue(out.contains("fftw-3.3.10"), out);
        assertTrue(out.contains("oneDNN         3.8.1"), out);
        assertTrue(out.contains("libdnnl.so.3"), out);
        assertTrue(out.contains("FFT  r2c n=64 x 64 rows") && out.contains("[ok]"), out);
        assertTrue(out.contains("selfcheck: OK"), out);
    }
}
