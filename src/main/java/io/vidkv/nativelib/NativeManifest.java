package io.vidkv.nativelib;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The parsed {@code natives.properties} (source: {@code native-libs/natives.properties}): which
 * shared libraries to load, where they sit inside their carrier jars, and their pinned SHA-256.
 */
record NativeManifest(String platform, Map<String, Entry> entries) {

    static final String RESOURCE = "natives.properties";

    /** One library of the manifest. */
    record Entry(String id, String file, String resource, String sha256, long size, String carrier,
                 String version, List<String> depends) {
    }

    static NativeManifest load() {
        try (InputStream in = NativeManifest.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new NativeLibraryException("The native library manifest io/vidkv/nativelib/" + RESOURCE
                        + " is missing from the vidkv jar; the build that produced this jar is broken.");
            }
            Properties p = new Properties();
            p.load(in);
            return parse(p);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read the native library manifest " + RESOURCE, e);
        }
    }

    static NativeManifest parse(Properties p) {
        String platform = required(p, "platform");
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (String id : required(p, "libraries").split(",")) {
            id = id.strip();
            String deps = p.getProperty(id + ".depends", "").strip();
            List<String> depends = deps.isEmpty() ? List.of()
                    : new ArrayList<>(Arrays.stream(deps.split(",")).map(String::strip).toList());
            entries.put(id, new Entry(id, required(p, id + ".file"), required(p, id + ".resource"),
                    required(p, id + ".sha256"), Long.parseLong(required(p, id + ".size")),
                    required(p, id + ".carrier"), p.getProperty(id + ".version", id), List.copyOf(depends)));
        }
        for (Entry e : entries.values()) {
            for (String d : e.depends()) {
                if (!entries.containsKey(d)) {
                    throw new IllegalStateException("natives.properties: " + e.id() + " depends on unknown library " + d);
                }
            }
        }
        return new NativeManifest(platform, Map.copyOf(entries));
    }

    Entry entry(String id) {
        Entry e = entries.get(id);
        if (e == null) {
            throw new IllegalArgumentException("No native library '" + id + "' in natives.properties; known: " + entries.keySet());
        }
        return e;
    }

    private static String required(Properties p, String key) {
        String v = p.getProperty(key);
        if (v == null || v.isBlank()) {
            throw new IllegalStateException("natives.properties lacks the key '" + key + "'");
        }
        return v.strip();
    }
}
