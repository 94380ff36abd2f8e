/**
 * JFR events of vidkv, all under the namespace {@code io.vidkv.*}: {@code io.vidkv.BlockQuantized}
 * (thresholded at 1 ms), {@code io.vidkv.AttentionStep}, {@code io.vidkv.Page} and
 * {@code io.vidkv.NativeLibraryLoaded}. They are enabled whenever a recording runs;
 * {@code jfr/vidkv.jfc} is a settings file that turns them on with the JDK's default profile, and
 * {@code scripts/profile.sh} records a replay run with it.
 */
package io.vidkv.jfr;
