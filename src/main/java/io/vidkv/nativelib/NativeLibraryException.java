package io.vidkv.nativelib;

/**
 * A native library could not be found, extracted, verified or opened. The message always says
 * which library, where the loader looked, and how to point it elsewhere.
 */
public final class NativeLibraryException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public NativeLibraryException(String message) {
        super(message);
    }

    public NativeLibraryException(String message, Throwable cause) {
        super(message, cause);
    }
}
