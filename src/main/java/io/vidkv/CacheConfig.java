package io.vidkv;

import java.util.List;

/**
 * Configuration of one sequence's cache: a {@link LayerConfig} per layer, the page size and the
 * token capacity.
 */
public record CacheConfig(List<LayerConfig> layers, int pageBytes, CapacityPolicy capacity) {

    public static final int DEFAULT_PAGE_BYTES = 64 * 1024;

    public CacheConfig {
        if (layers == null || layers.isEmpty()) {
            throw new IllegalArgumentException("a cache config needs at least one layer");
        }
        layers = List.copyOf(layers);
        if (pageBytes < 4096) {
            throw new IllegalArgumentException("pageBytes must be >= 4096, got " + pageBytes);
        }
        if (capacity == null) {
            throw new IllegalArgumentException("capacity must not be null");
        }
    }

    /** The same layer configuration for every layer of {@code shape}. */
    public static CacheConfig uniform(ModelShape shape, LayerConfig layer) {
        return new CacheConfig(java.util.Collections.nCopies(shape.layers(), layer), DEFAULT_PAGE_BYTES, CapacityPolicy.DEFAULT);
    }

    public static CacheConfig of(ModelShape shape, Preset preset) {
        return uniform(shape, preset.layerConfig());
    }

    public CacheConfig withCapacity(int maxTokens) {
        return new CacheConfig(layers, pageBytes, new CapacityPolicy(maxTokens));
    }

    public CacheConfig withCapacity(CapacityPolicy policy) {
        return new CacheConfig(layers, pageBytes, policy);
    }

    public CacheConfig withPageBytes(int bytes) {
        return new CacheConfig(layers, bytes, capacity);
    }

    public LayerConfig layer(int i) {
        return layers.get(i);
    }
}
