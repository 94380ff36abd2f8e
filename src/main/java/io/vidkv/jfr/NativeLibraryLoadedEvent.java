package io.vidkv.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A native library opened by the loader. */
@Name("io.vidkv.NativeLibraryLoaded")
@Label("Native Library Loaded")
@Category({"vidkv", "Native"})
@Description("A native library extracted and opened, or found through an override")
@StackTrace(false)
public final class NativeLibraryLoadedEvent extends jdk.jfr.Event {
    @Label("Library")
    public String library;
    @Label("Version")
    public String version;
    @Label("Path")
    public String path;
    @Label("Source")
    public String source;
}
