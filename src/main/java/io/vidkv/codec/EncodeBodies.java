package io.vidkv.codec;

/**
 * Where the encoders find the {@link EncodeMath} body of this process. {@code io.vidkv.kernel.KernelProvider}
 * picks it, with the same rule as the attention kernels' body, and installs it here when its class
 * is initialized; the first encoder to ask before that initializes the provider (the JDK's shared-secrets
 * idiom), so the choice is made exactly once, in one place.
 */
public final class EncodeBodies {

    private static volatile EncodeMath body;

    private EncodeBodies() {
    }

    /** Called once, by {@code KernelProvider}'s static initializer. */
    public static void install(EncodeMath chosen) {
        body = chosen;
    }

    static EncodeMath chosen() {
        EncodeMath b = body;
        if (b == null) {
            try {
                Class.forName("io.vidkv.kernel.KernelProvider", true, EncodeBodies.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException("vidkv: the kernel provider is missing", e);
            }
            b = body;
        }
        return b;
    }
}
