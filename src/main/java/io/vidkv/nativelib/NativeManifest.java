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
        for (String id : required(p, "libraries").split(",", -1)) {
            id = id.strip();
            if (id.isEmpty()) {
                throw new IllegalStateException("natives.properties: 'libraries' has an empty entry: '" + p.getProperty("libraries") + "'");
            }
            String deps = p.getProperty(id + ".depends", "").strip();
            List<String> depends = deps.isEmpty() ? List.of()
                    : new ArrayList<>(Arrays.stream(deps.split(",")).map(String::strip).toList());
            String sizeText = required(p, id + ".size");
            long size;
            try {
                size = Long.parseLong(sizeText);
            } catch (NumberFormatException e) {
                size = -1;
            }
            if (size < 0) {
                throw new IllegalStateException("natives.properties: " + id + ".size must be a byte count, got '" + sizeText + "'");
            }
            entries.put(id, new Entry(id, required(p, id + ".file"), required(p, id + ".resource"),
                    required(p, id + ".sha256"), size,
                    required(p, id + ".carrier"), p.getProperty(id + ".version", id), List.copyOf(depends)));
        }
        for (Entry e : entries.values()) {
            for (String d : e.depends()) {
                if (!entries.containsKey(d)) {
                    throw new IllegalStateException("natives.properties: " + e.id() + " depends on unknown library " + d);
                }
            }
        }
        Map<String, Boolean> done = new java.util.HashMap<>(); // false: on the current path, true: checked
        for (Entry e : entries.values()) { // the loader opens dependencies recursively: a cycle would never end
            checkAcyclic(entries, e.id(), new ArrayList<>(), done);
        }
        return new NativeManifest(platform, Map.copyOf(entries));
    }

    private static void checkAcyclic(Map<String, Entry> entries, String id, List<String> path, Map<String, Boolean> done) {
        Boolean state = done.get(id);
        if (state != null) {
            if (!state) {
                path.add(id);
                throw new IllegalStateException("natives.properties: dependency cycle "
                        + String.join(" -> ", path.subList(path.indexOf(id), path.size())));
            }
            return;
        }
        done.put(id, false);
        path.add(id);
        for (String d : entries.get(id).depends()) {
            checkAcyclic(entries, d, path, done);
        }
        path.remove(path.size() - 1);
        done.put(id, true);
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
