package io.vidkv;

import io.vidkv.codec.KeyCodec;
import io.vidkv.codec.ValueCodec;

/** One layer of a sequence: its configuration, codecs, the per-KV-head streams and byte counts. */
final class LayerStore {

    final LayerConfig config;
    final KeyCodec keyCodec;
    final ValueCodec valueCodec;
    final HeadStore[] heads;
    final QuantizationSchedule schedule;
    /** Layer index and a name for events (the preset id when the config is a preset's). */
    final int index;
    final String name;
    int tokens;
    int quantizedTokens;
    /** Oldest tokens dropped by {@link CapacityPolicy.OnFull#EVICT_OLDEST}; retained: [evictedTokens, tokens). */
    int evictedTokens;
    boolean calibrated;
    long payloadBytes;
    long metadataBytes;

    /**
     * {@code calibrated}: the layer will be given calibrated state (a fork or a restore of a
     * calibrated layer), so its window never holds more than R + G - 1 tokens again and its token
     * ring is that size instead of R + C x G. The windows' chunks come from {@code windowChunks}.
     */
    LayerStore(int index, LayerConfig config, ModelShape shape, int maxTokens, WindowChunks windowChunks,
               boolean calibrated) {
        this.index = index;
        this.name = presetName(config);
        this.config = config;
        this.keyCodec = io.vidkv.codec.Codecs.keys(config, shape.headDim());
        this.valueCodec = io.vidkv.codec.Codecs.values(config, shape.headDim());
        this.schedule = new QuantizationSchedule(config);
        int maxBlocks = maxTokens / config.groupSize() + 1;
        this.heads = new HeadStore[shape.kvHeads()];
        for (int h = 0; h < heads.length; h++) {
            heads[h] = new HeadStore(shape.headDim(), config.groupSize(),
                    calibrated ? config.residual() + config.groupSize() : config.windowCapacity(), maxBlocks, windowChunks);
        }
    }

    /** Makes this (new, empty) layer a fork of {@code parent}: counts, and every head (see {@link HeadStore#forkFrom}). */
    void forkFrom(LayerStore parent) {
        tokens = parent.tokens;
        quantizedTokens = parent.quantizedTokens;
        evictedTokens = parent.evictedTokens;
        calibrated = parent.calibrated;
        payloadBytes = parent.payloadBytes;
        metadataBytes = parent.metadataBytes;
        for (int h = 0; h < heads.length; h++) {
            heads[h].forkFrom(parent.heads[h]);
        }
    }

    /**
     * Unseals the tail pages if every head holds its own alone again; all or none, so that every
     * head still places its blocks alike (page planning counts head 0 for all). Run by an append
     * before it plans: references can only fall until it returns (nothing forks a sequence while it
     * is written), so a tail found reclaimable stays so. Allocates nothing.
     */
    void reclaimTails() {
        for (HeadStore hs : heads) {
            if (!hs.tailReclaimable()) {
                return;
            }
        }
        for (HeadStore hs : heads) {
            hs.unsealTail();
        }
    }

    static String presetName(LayerConfig config) {
        for (Preset p : Preset.values()) {
            if (p.layerConfig().equals(config)) {
                return p.id();
            }
        }
        return "custom";
    }

    /** Bytes of one block (key and value part) whose group has {@code protectedCount} protected tokens. */
    long blockBytes(int protectedCount) {
        return keyCodec.blockBytes() + valueCodec.blockBytes(protectedCount);
    }

    long maxBlockBytes() {
        return blockBytes(config.groupSize());
    }

    /**
     * Counts {@code blocks} blocks of groups with {@code protectedCount} protected tokens into the
     * layer's payload and metadata bytes (negative when they are evicted).
     */
    void countBlocks(int protectedCount, int blocks) {
        long meta = keyCodec.metadataBytes() + valueCodec.metadataBytes(protectedCount);
        payloadBytes += (blockBytes(protectedCount) - meta) * blocks;
        metadataBytes += meta * blocks;
    }

    /**
     * Pages every head opens for an append of {@code tokenCount} tokens: the groups the schedule
     * quantizes (in the reference mode, the prefill's and the flushes' new blocks), placed the way
     * {@link HeadStore#placeBlock} places them (a block that does not fit
     * the room left opens a page). All heads get the same block sizes, so head 0 stands for all.
     * {@code freshPage}: the current page is evicted first, so the first block opens a new one.
     */
    int pagesPerHead(int tokenCount, boolean freshPage, ProtectedTokens protectedTokens, int pageBytes) {
        HeadStore h0 = heads[0];
        int g = config.groupSize();
        int groups = config.referenceMode() ? ReferenceModeAppend.newGroups(this, tokenCount)
                : schedule.groupsDue(h0.windowCount() + tokenCount, calibrated);
        long room = freshPage ? 0 : h0.pageRoom(pageBytes);
        int pages = 0;
        for (int i = 0; i < groups; i++) {
            long bytes = blockBytes(protectedTokens.count(quantizedTokens + i * g, g));
            if (bytes > room) {
                pages++;
                room = pageBytes;
            }
            room -= bytes;
        }
        return pages;
    }
}
