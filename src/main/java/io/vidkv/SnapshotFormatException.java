package io.vidkv;

import java.nio.file.Path;

/**
 * A snapshot file that {@link KvCache#openSnapshot} or {@link SnapshotInfo#inspect} cannot accept:
 * truncated, corrupted (a checksum does not match), of another format or version, declaring sizes
 * the file or the configuration cannot hold, or for another model shape or configuration than the
 * caller expects. Thrown before anything of a size the file declares is allocated and before a
 * cache is created; the message names the file, the section ({@code header}, {@code table}, or a
 * section tag of the format, README "Snapshots") and what was expected against what was found.
 */
public final class SnapshotFormatException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** The file, as a string (a {@link Path} is not serializable). */
    private final String file;
    /** The section: {@code header}, {@code table} or a section tag. */
    private final String section;

    /**
     * An exception about {@code section} of {@code file}.
     *
     * @param file    the snapshot file
     * @param section the section: {@code header}, {@code table}, or a section tag such as {@code HEAD}
     * @param problem what is wrong, with the expected and the actual value
     */
    public SnapshotFormatException(Path file, String section, String problem) {
        super("snapshot " + file + ": " + section + ": " + problem);
        this.file = file.toString();
        this.section = section;
    }

    /**
     * The file the problem is in.
     *
     * @return the path as given to the reader
     */
    public Path file() {
        return Path.of(file);
    }

    /**
     * The section the problem is in.
     *
     * @return {@code header}, {@code table}, or a section tag ({@code SHAP}, {@code CONF},
     *         {@code PROT}, {@code HEAD}, {@code WIND}, {@code PAGE})
     */
    public String section() {
        return section;
    }
}
