package io.vidkv;

/**
 * How {@link KvCache#openSnapshot} brings a snapshot file back (the format: README "Snapshots").
 */
public enum SnapshotMode {
    /**
     * The file is mapped read-only ({@code FileChannel.map} into a {@code MemorySegment}) and its
     * blocks are attended in place, zero copies; new blocks go into ordinary pool pages. The mapping
     * stays open while any sequence (the restored one or its forks) references one of its pages.
     */
    MAPPED,
    /** The blocks are copied into pool pages; the file is closed when the call returns. */
    LOADED
}
