package io.vidkv.internal;

import io.vidkv.KvCache;
import io.vidkv.codec.KeyCodec;
import io.vidkv.codec.ValueCodec;

/**
 * The library's own way into a {@link KvCache}: its streams, codecs and read bracket, for the
 * kernels in {@code io.vidkv.kernel}. Package {@code io.vidkv.internal} is not exported, so these
 * stay out of the API an embedding engine sees (the JDK's "shared secrets" idiom): {@code KvCache}
 * installs its {@link Accessor} when its class is initialized, which has happened before any cache
 * can be passed here.
 */
public final class CacheAccess {

    /** What {@link KvCache} implements for the kernels. */
    public interface Accessor {
        /** The stream of (layer, kvHead); the indices are checked. */
        HeadStream stream(KvCache cache, int layer, int kvHead);

        /** The layer's key codec. */
        KeyCodec keyCodec(KvCache cache, int layer);

        /** The layer's value codec. */
        ValueCodec valueCodec(KvCache cache, int layer);

        /** Begins a read (attention) of the cache; refused while a write is in progress. */
        void beginRead(KvCache cache);

        /** Ends a read begun by {@link #beginRead}. */
        void endRead(KvCache cache);
    }

    private static volatile Accessor accessor;

    private CacheAccess() {
    }

    /** Called once, by {@code KvCache}'s static initializer. */
    public static void install(Accessor a) {
        if (accessor != null) {
            throw new IllegalStateException("CacheAccess is installed already");
        }
        accessor = a;
    }

    /** The stream of (layer, kvHead) of {@code cache}. */
    public static HeadStream stream(KvCache cache, int layer, int kvHead) {
        return accessor.stream(cache, layer, kvHead);
    }

    /** The key codec of {@code layer}. */
    public static KeyCodec keyCodec(KvCache cache, int layer) {
        return accessor.keyCodec(cache, layer);
    }

    /** The value codec of {@code layer}. */
    public static ValueCodec valueCodec(KvCache cache, int layer) {
        return accessor.valueCodec(cache, layer);
    }

    /** Begins a read of {@code cache}: call {@link #endRead} in a {@code finally}. */
    public static void beginRead(KvCache cache) {
        accessor.beginRead(cache);
    }

    /** Ends a read begun by {@link #beginRead}. */
    public static void endRead(KvCache cache) {
        accessor.endRead(cache);
    }
}
