package io.vidkv;

import java.util.List;

/**
 * Configuration of one sequence's cache: a {@link LayerConfig} per layer, the page size and the
 * token capacity. Usually made from a {@link Preset} ({@link #of}) and adjusted with the
 * {@code with...} methods; the canonical constructor allows a different {@link LayerConfig} per
 * layer. {@link KvCache#create} checks it against the {@link ModelShape}: as many layers as the
 * model, a page size equal to the pool's, and every layer's largest block fitting one page
 * (otherwise {@code IllegalArgumentException}).
 *
 * @param layers    one configuration per decoder layer, in layer order; non-empty, copied into an
 *                  unmodifiable list
 * @param pageBytes bytes per page of the {@link PagePool} the blocks live in, at least 4096
 *                  (default {@link #DEFAULT_PAGE_BYTES}); pages are the unit of allocation and of
 *                  eviction
 * @param capacity  the token capacity and what happens when it is reached
 */
public record CacheConfig(List<LayerConfig> layers, int pageBytes, CapacityPolicy capacity) {

    /**
     * 64 KiB, about 900 tokens of one d = 128 KV head at 1.5 bits. Every (layer, KV head) holds
     * whole pages, and eviction drops whole pages: smaller pages waste less on short sequences and
     * evict in finer steps.
     */
    public static final int DEFAULT_PAGE_BYTES = 64 * 1024;

    /**
     * Checks the configuration and copies {@code layers}.
     *
     * @param layers    one configuration per decoder layer, non-empty
     * @param pageBytes bytes per page, at least 4096
     * @param capacity  the token capacity, not null
     * @throws IllegalArgumentException if {@code layers} is null or empty, {@code pageBytes < 4096}
     *                                  or {@code capacity} is null
     * @throws NullPointerException     if an element of {@code layers} is null
     */
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

    /**
     * The same layer configuration for every layer of {@code shape}, with the default page size
     * and {@link CapacityPolicy#DEFAULT}.
     *
     * @param shape the model, for its number of layers
     * @param layer the configuration of every layer
     * @return the configuration
     */
    public static CacheConfig uniform(ModelShape shape, LayerConfig layer) {
        return new CacheConfig(java.util.Collections.nCopies(shape.layers(), layer), DEFAULT_PAGE_BYTES, CapacityPolicy.DEFAULT);
    }

    /**
     * A preset's {@link Preset#layerConfig()} for every layer of {@code shape}, with the default
     * page size and {@link CapacityPolicy#DEFAULT}.
     *
     * @param shape  the model, for its number of layers
     * @param preset the preset, e.g. {@code Preset.byId("vidkv-1.5/1.58")}
     * @return the configuration
     */
    public static CacheConfig of(ModelShape shape, Preset preset) {
        return uniform(shape, preset.layerConfig());
    }

    /**
     * This configuration with a capacity of {@code maxTokens} that rejects appends past it
     * ({@link CapacityPolicy.OnFull#REJECT}).
     *
     * @param maxTokens most tokens each layer holds, positive
     * @return a new configuration
     * @throws IllegalArgumentException if {@code maxTokens <= 0}
     */
    public CacheConfig withCapacity(int maxTokens) {
        return new CacheConfig(layers, pageBytes, new CapacityPolicy(maxTokens));
    }

    /**
     * This configuration with another capacity policy, e.g.
     * {@link CapacityPolicy#evictOldest(int)} for a stream that keeps only its newest tokens.
     *
     * @param policy the capacity policy
     * @return a new configuration
     * @throws IllegalArgumentException if {@code policy} is null
     */
    public CacheConfig withCapacity(CapacityPolicy policy) {
        return new CacheConfig(layers, pageBytes, policy);
    }

    /**
     * This configuration with another page size; a shared {@link PagePool} must have the same.
     *
     * @param bytes bytes per page, at least 4096
     * @return a new configuration
     * @throws IllegalArgumentException if {@code bytes < 4096}
     */
    public CacheConfig withPageBytes(int bytes) {
        return new CacheConfig(layers, bytes, capacity);
    }

    /**
     * The configuration of one layer.
     *
     * @param i the layer, {@code 0 <= i < layers().size()}
     * @return {@code layers().get(i)}
     * @throws IndexOutOfBoundsException if {@code i} is out of range
     */
    public LayerConfig layer(int i) {
        return layers.get(i);
    }
}
