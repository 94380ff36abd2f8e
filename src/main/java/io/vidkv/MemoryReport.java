package io.vidkv;

import java.util.ArrayList;
import java.util.List;

/**
 * Every byte a sequence holds, per layer and in total, and the bits per element two ways
 * (METHOD.md section 7):
 * <ul>
 *   <li><b>nominal</b>: the paper's counting, code bits only (e.g. 1.5 / 1.58);
 *   <li><b>effective</b>: bytes of the quantized blocks (codes + scales, zero points, masks, and
 *       the per-head split and super-scales) x 8 / quantized K and V elements;
 *   <li><b>total</b>: additionally the float32 residual window and the unused tail of pages,
 *       divided by all cached elements: what the sequence really costs now.
 * </ul>
 * Made by {@link KvCache#memoryReport()}, a snapshot at that moment. Only retained tokens count:
 * tokens evicted under {@link CapacityPolicy#evictOldest(int)} cost nothing any more. An element is
 * one key or value channel of one token in one KV head.
 *
 * @param layers        one entry per layer, in layer order (unmodifiable)
 * @param tokens        retained tokens of the longest layer
 * @param fp16Bytes     what the retained tokens would cost as FP16 keys and values, all layers
 * @param payloadBytes  code bytes of all blocks, all layers and KV heads
 * @param metadataBytes scales, zero points and masks in the blocks, plus per-head state (the
 *                      key channel split as a d-bit mask, super-scales and value channel normalizers
 *                      as each codec stores them: {@code KeyCodec.stateBytes()}), all layers
 * @param residualBytes float32 keys and values of the residual windows' tokens
 * @param pageBytes     bytes of the pages held, blocks plus unused page tails
 * @param nominalBits   the paper's bits per element, the layers' {@link LayerConfig#nominalBits()}
 *                      weighted by their quantized elements (equally before any quantization)
 * @param effectiveBits (payloadBytes + metadataBytes) x 8 / quantized elements: every byte the
 *                      quantized tokens cost; 0 before the first quantization
 * @param totalBits     (pageBytes + residualBytes + per-head state) x 8 / all retained elements,
 *                      residual window included; 0 while nothing is held
 * @param sharedPageBytes bytes of the pages (part of {@code pageBytes}) that other sequences reference
 *                      too, a parent and its forks ({@link KvCache#fork()}): each of them reports
 *                      these, the pool holds them once ({@link PagePool#report()})
 * @param mappedPageBytes bytes of the pages (part of {@code pageBytes}) read in place from a mapped
 *                      snapshot file ({@link SnapshotMode#MAPPED}): file-backed, not pool memory
 * @param sharedResidualBytes float32 bytes of the residual-window tokens (part of {@code residualBytes})
 *                      that other sequences reference too: a fork shares its parent's window tokens
 *                      (each of them reports these; they are held once) until one side quantizes them
 */
public record MemoryReport(List<Layer> layers, long tokens, long fp16Bytes, long payloadBytes, long metadataBytes,
                           long residualBytes, long pageBytes, double nominalBits, double effectiveBits,
                           double totalBits, long sharedPageBytes, long mappedPageBytes, long sharedResidualBytes) {

    /**
     * One layer.
     *
     * @param layer           the layer index
     * @param quantizedTokens tokens held in blocks (evicted ones not counted)
     * @param windowTokens    tokens in the residual window
     * @param payloadBytes    code bytes of all blocks, all KV heads
     * @param metadataBytes   scales, zero points, masks and per-head state
     * @param residualBytes   float32 K and V of the window tokens
     * @param pageBytes       bytes of the pages held (blocks plus unused page tails)
     * @param fp16Bytes       what the layer's tokens cost as FP16 K and V
     * @param nominalBits     the layer's {@link LayerConfig#nominalBits()}
     * @param effectiveBits   (payloadBytes + metadataBytes) x 8 / the layer's quantized elements,
     *                        0 before its first quantization
     */
    public record Layer(int layer, int quantizedTokens, int windowTokens, long payloadBytes, long metadataBytes,
                        long residualBytes, long pageBytes, long fp16Bytes, double nominalBits, double effectiveBits) {
    }

    static MemoryReport of(KvCache cache, LayerStore[] stores, ModelShape shape, CacheConfig config) {
        List<Layer> out = new ArrayList<>();
        long payload = 0, meta = 0, resid = 0, pages = 0, fp16 = 0, quantElements = 0, allElements = 0;
        long shared = 0, mapped = 0, sharedResid = 0;
        double nominalWeighted = 0;
        long tokens = 0;
        for (int l = 0; l < stores.length; l++) {
            LayerStore ls = stores[l];
            long headState = 0;
            if (ls.calibrated) {
                headState = ls.heads.length * (ls.keyCodec.stateBytes() + ls.valueCodec.stateBytes());
            }
            int window = ls.tokens - ls.quantizedTokens;
            int held = ls.tokens - ls.evictedTokens; // evicted tokens cost nothing any more
            int heldQuantized = ls.quantizedTokens - ls.evictedTokens;
            long lResid = (long) window * shape.tokenElements() * 2 * Float.BYTES;
            long lPages = 0;
            for (HeadStore hs : ls.heads) {
                sharedResid += (long) hs.window.sharedTokens() * shape.headDim() * 2 * Float.BYTES;
                lPages += (long) hs.pageCount() * config.pageBytes();
                for (int i = 0; i < hs.pageCount(); i++) {
                    Page p = hs.heldPage(i);
                    if (p.references() > 1) {
                        shared += config.pageBytes();
                    }
                    if (!p.owner.writable()) {
                        mapped += config.pageBytes();
                    }
                }
            }
            long lMeta = ls.metadataBytes + headState;
            long lFp16 = (long) held * shape.tokenElements() * 2 * 2;
            long qElems = (long) heldQuantized * shape.tokenElements() * 2;
            double eff = qElems == 0 ? 0 : (ls.payloadBytes + lMeta) * 8.0 / qElems;
            out.add(new Layer(l, heldQuantized, window, ls.payloadBytes, lMeta, lResid, lPages, lFp16,
                    ls.config.nominalBits(), eff));
            payload += ls.payloadBytes;
            meta += lMeta;
            resid += lResid;
            pages += lPages;
            fp16 += lFp16;
            quantElements += qElems;
            allElements += (long) held * shape.tokenElements() * 2;
            nominalWeighted += ls.config.nominalBits() * Math.max(1, qElems);
            tokens = Math.max(tokens, held);
        }
        long weights = 0;
        for (Layer l : out) {
            weights += Math.max(1, (long) l.quantizedTokens() * shape.tokenElements() * 2);
        }
        double nominal = nominalWeighted / weights;
        double effective = quantElements == 0 ? 0 : (payload + meta) * 8.0 / quantElements;
        double total = allElements == 0 ? 0 : (pages + resid + (meta - sumBlockMeta(stores))) * 8.0 / allElements;
        return new MemoryReport(List.copyOf(out), tokens, fp16, payload, meta, resid, pages, nominal, effective, total,
                shared, mapped, sharedResid);
    }

    /** Metadata inside blocks (already counted in page bytes), to avoid counting it twice. */
    private static long sumBlockMeta(LayerStore[] stores) {
        long s = 0;
        for (LayerStore ls : stores) {
            s += ls.metadataBytes;
        }
        return s;
    }

    /**
     * Bytes of the pages only this sequence references (pool or mapped), the part that closing it
     * gives back.
     *
     * @return {@code pageBytes - sharedPageBytes}
     */
    public long privatePageBytes() {
        return pageBytes - sharedPageBytes;
    }

    /**
     * Bytes of the residual-window tokens only this sequence references, the part of the windows
     * that closing it gives back.
     *
     * @return {@code residualBytes - sharedResidualBytes}
     */
    public long privateResidualBytes() {
        return residualBytes - sharedResidualBytes;
    }

    /**
     * Bytes of blocks (payload + in-block metadata + head state): what the quantized tokens cost.
     *
     * @return {@code payloadBytes + metadataBytes}
     */
    public long quantizedBytes() {
        return payloadBytes + metadataBytes;
    }

    /**
     * FP16 bytes divided by the pages and residual windows held: how many times smaller than an
     * FP16 cache of the same tokens the sequence is now.
     *
     * @return {@code fp16Bytes / (pageBytes + residualBytes)}, or 0 if nothing is held
     */
    public double compressionRatio() {
        long held = pageBytes + residualBytes;
        return held == 0 ? 0 : (double) fp16Bytes / held;
    }
}
