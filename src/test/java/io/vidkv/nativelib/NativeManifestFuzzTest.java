package io.vidkv.nativelib;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link NativeManifest#parse} (package-private, hence this package) on fuzzed
 * {@code natives.properties} text. Documented outcome of a bad manifest: an
 * {@link IllegalStateException} starting "natives.properties"; an accepted manifest has every
 * required field, a non-negative size and dependencies that name known libraries without a cycle
 * (the loader opens dependencies recursively). Corpus:
 * {@code src/test/resources/io/vidkv/nativelib/NativeManifestFuzzTestInputs/parse}.
 */
class NativeManifestFuzzTest {

    @FuzzTest(maxDuration = "1m")
    void parse(byte[] bytes) throws IOException {
        Properties p = new Properties();
        try {
            p.load(new StringReader(new String(bytes, StandardCharsets.ISO_8859_1)));
        } catch (IllegalArgumentException e) {
            return; // java.util.Properties itself rejects a malformed \\uXXXX escape
        }
        NativeManifest m;
        try {
            m = NativeManifest.parse(p);
        } catch (IllegalStateException e) {
            assertTrue(e.getMessage().startsWith("natives.properties"), e.getMessage());
            return;
        }
        assertFalse(m.platform().isBlank());
        assertFalse(m.entries().isEmpty());
        for (NativeManifest.Entry e : m.entries().values()) {
            assertFalse(e.file().isBlank() || e.resource().isBlank() || e.sha256().isBlank() || e.carrier().isBlank(), e.toString());
            assertTrue(e.size() >= 0, "negative size accepted: " + e);
            for (String d : e.depends()) {
                assertTrue(m.entries().containsKey(d), "unknown dependency " + d);
            }
            assertTrue(m.entry(e.id()) == e);
        }
        // acyclic: Kahn's algorithm removes every library
        Map<String, Integer> pending = new HashMap<>();
        m.entries().values().forEach(e -> pending.put(e.id(), new HashSet<>(e.depends()).size()));
        Deque<String> ready = new ArrayDeque<>();
        pending.forEach((id, n) -> {
            if (n == 0) {
                ready.add(id);
            }
        });
        int removed = 0;
        while (!ready.isEmpty()) {
            String id = ready.poll();
            removed++;
            for (NativeManifest.Entry e : m.entries().values()) {
                if (new HashSet<>(e.depends()).contains(id) && pending.merge(e.id(), -1, Integer::sum) == 0) {
                    ready.add(e.id());
                }
            }
        }
        assertEquals(m.entries().size(), removed, "dependency cycle among " + pending);
    }
}
