package io.vidkv;

import io.vidkv.codec.KeyCodec;
import io.vidkv.codec.ValueCodec;

import java.lang.foreign.Arena;

/** One layer of a sequence: its configuration, codecs, the per-KV-head streams and byte counts. */
final class LayerStore {

    final LayerConfig config;
    final KeyCodec keyCodec;
    final ValueCodec valueCodec;
    final HeadStream[] heads;
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

    LayerStore(int index, LayerConfig config, ModelShape shape, int maxTokens, Arena arena) {
        this.index = index;
        this.name = presetName(config);
        this.config = config;
        this.keyCodec = config.keyCodec(shape.headDim());
        this.valueCodec = config.valueCodec(shape.headDim());
        int maxBlocks = maxTokens / config.groupSize() + 1;
        this.heads = new HeadStream[shape.kvHeads()];
        for (int h = 0; h < heads.length; h++) {
            heads[h] = new HeadStream(shape.headDim(), config.groupSize(), config.windowCapacity(), maxBlocks, arena);
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

    /** Window size at which the oldest group(s) get quantized. */
    int quantizeThreshold() {
        return config.residual() + (calibrated ? 1 : config.calibrationGroups()) * config.groupSize();
    }

    long maxBlockBytes() {
        return keyCodec.blockBytes() + valueCodec.blockBytes(config.groupSize());
    }
}
