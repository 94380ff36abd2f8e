package io.vidkv;

/**
 * {@link KvCache#fork()}: a new sequence that shares every quantized block of its parent. The child
 * references the parent's pages (one more reference on each, no block bytes copied) and the chunks of
 * its residual windows (likewise, see {@link ResidualWindow}), and copies what is small and changes:
 * the block directories, the windows' token entries, the per-head state (channel split,
 * super-scales), the protected positions and the counts. From then on the two are independent
 * sequences on the same pool (pages and window chunks): each appends into pages and window chunks of its own
 * (the shared tail pages are sealed, see {@link HeadStore}), attends its own tokens, evicts and
 * closes on its own.
 *
 * <p>A layer in the reference mode cannot be forked: its flushes re-quantize old blocks in place,
 * which would rewrite pages the other side reads.
 */
final class SequenceFork {

    private SequenceFork() {
    }

    /** The fork; the caller holds a read of {@code parent} (no write can move it meanwhile). */
    static KvCache fork(KvCache parent) {
        for (int l = 0; l < parent.shape().layers(); l++) {
            if (parent.layerConfig(l).referenceMode()) {
                throw new IllegalStateException("layer " + l + " is in the reference mode, which re-quantizes old blocks in "
                        + "place at every flush; a fork would rewrite pages its parent reads. Nothing was forked");
            }
        }
        if (parent.pagePool().isClosed()) {
            throw new IllegalStateException("page pool is closed; close the pool after the caches that draw pages from it "
                    + "(nothing was forked)");
        }
        KvCache child = parent.emptySibling();
        try {
            child.protectedTokens().copyFrom(parent.protectedTokens());
            LayerStore[] from = parent.layerStores();
            LayerStore[] to = child.layerStores();
            for (int l = 0; l < from.length; l++) {
                to[l].forkFrom(from[l]);
            }
            return child;
        } catch (Throwable t) {
            child.close(); // releases the references taken so far
            throw t;
        }
    }
}
