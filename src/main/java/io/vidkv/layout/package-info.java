/**
 * Block layouts: one file per layout family, stating every offset and bit order of a block. The
 * encoders in {@code io.vidkv.codec} write exactly these offsets and the kernels in
 * {@code io.vidkv.kernel} read them; neither keeps a private notion of where a byte lives.
 *
 * <p>Conventions shared by every family: a block holds the keys of G tokens of one (layer, KV head)
 * followed by their values; bit strings are little-endian (bit i of a string at byte {@code o} is
 * bit {@code i % 8} of byte {@code o + i / 8}); scales and zero points are {@code paramBytes} each
 * (2 for FP16, 1 for the compact 8-bit log format, see {@code MetadataFormat}).
 */
package io.vidkv.layout;
