package io.vidkv.kernel;

/**
 * Decides once, at startup, whether the Vector API can be used, the way Lucene's
 * {@code VectorizationProvider} does: the incubator module must be in the boot layer (on the class
 * path it needs {@code --add-modules jdk.incubator.vector}) and not switched off with
 * {@code -Dvidkv.vector=false}. Kernels pick their Panama or plain-Java path from {@link #ENABLED}.
 */
final class VectorSupport {

    /** Set {@code -Dvidkv.vector=false} to force the plain-Java kernels. */
    static final String PROPERTY = "vidkv.vector";

    /** True if the Panama kernels may be used. */
    static final boolean ENABLED = detect();

    private VectorSupport() {
    }

    private static boolean detect() {
        if (!Boolean.parseBoolean(System.getProperty(PROPERTY, "true"))) {
            return false; // asked for: no warning
        }
        boolean present = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
        if (!present) {
            // Once per process (class initialization): the kernels still work, several times slower,
            // which nobody would notice otherwise. On the module path "requires" loads the module;
            // on the class path only the flag does.
            System.getLogger("io.vidkv").log(System.Logger.Level.WARNING,
                    "vidkv: module jdk.incubator.vector is not loaded, so the attention kernels run their plain-Java"
                            + " body (about 3.5x slower per decode step). Add --add-modules jdk.incubator.vector to the"
                            + " JVM flags (or -D" + PROPERTY + "=false to choose the plain-Java body and silence this).");
        }
        return present;
    }

    /** A one-line description: the preferred float species and its lane count, or why not. */
    static String describe() {
        if (!ENABLED) {
            return "plain Java (Vector API " + (Boolean.parseBoolean(System.getProperty(PROPERTY, "true"))
                    ? "module jdk.incubator.vector not loaded" : "disabled by -D" + PROPERTY + "=false") + ")";
        }
        return PanamaSpecies.describe();
    }

    /** Isolated so that the Vector API classes are touched only when the module is present. */
    private static final class PanamaSpecies {
        static String describe() {
            var f = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
            var s = jdk.incubator.vector.ShortVector.SPECIES_PREFERRED;
            return "Vector API: " + f.vectorBitSize() + "-bit, " + f.length() + " float lanes, "
                    + s.length() + " short lanes";
        }
    }
}
