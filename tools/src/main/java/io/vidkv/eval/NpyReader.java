package io.vidkv.eval;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads NumPy {@code .npy} files (format versions 1-3) holding little-endian float32 ({@code <f4}) or
 * float16 ({@code <f2}) arrays in C order into float32 segments. Everything the header claims is
 * checked against the file before anything is allocated: magic, version, header length, dtype, order,
 * shape (positive, no overflow) and that the data the shape implies fit in the file; a lying header
 * gives an {@link IllegalArgumentException} naming the file and the problem, never a read past the
 * end or an allocation of the declared size.
 */
public final class NpyReader {

    /** Largest header we accept (NumPy writes a few hundred bytes). */
    static final int MAX_HEADER = 1 << 16;
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern ORDER = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    /** A float32 array and its shape. */
    public record Array(MemorySegment data, long[] shape) {
        public long elements() {
            long n = 1;
            for (long s : shape) {
                n *= s;
            }
            return n;
        }
    }

    private NpyReader() {
    }

    /** Reads {@code file} into a float32 segment of {@code arena}. */
    public static Array read(Path file, Arena arena) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ); Arena tmp = Arena.ofConfined()) {
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), tmp);
            return parse(mapped, file.toString(), arena);
        }
    }

    /** Parses the bytes of a whole .npy file ({@code name} is used in error messages). */
    public static Array parse(MemorySegment bytes, String name, Arena arena) {
        long size = bytes.byteSize();
        if (size < 10) {
            throw bad(name, "is " + size + " bytes, shorter than the 10-byte .npy preamble");
        }
        byte[] magic = bytes.asSlice(0, 6).toArray(ValueLayout.JAVA_BYTE);
        if ((magic[0] & 0xFF) != 0x93 || !new String(magic, 1, 5, StandardCharsets.ISO_8859_1).equals("NUMPY")) {
            throw bad(name, "does not start with the .npy magic \\x93NUMPY");
        }
        int major = bytes.get(ValueLayout.JAVA_BYTE, 6);
        long headerLen;
        long headerStart;
        if (major == 1) {
            headerLen = bytes.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 8) & 0xFFFF;
            headerStart = 10;
        } else if (major == 2 || major == 3) {
            if (size < 12) {
                throw bad(name, "is too short for a version " + major + " preamble");
            }
            headerLen = bytes.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 8) & 0xFFFFFFFFL;
            headerStart = 12;
        } else {
            throw bad(name, "has unsupported .npy format version " + major);
        }
        if (headerLen > MAX_HEADER || headerStart + headerLen > size) {
            throw bad(name, "declares a header of " + headerLen + " bytes but the file has " + (size - headerStart) + " after the preamble");
        }
        String header = new String(bytes.asSlice(headerStart, headerLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.ISO_8859_1);
        String descr = group(DESCR, header, name, "'descr'");
        int item;
        if (descr.equals("<f4") || descr.equals("float32")) {
            item = 4;
        } else if (descr.equals("<f2")) {
            item = 2;
        } else {
            throw bad(name, "has dtype '" + descr + "'; expected little-endian float32 '<f4' (or float16 '<f2')");
        }
        if (group(ORDER, header, name, "'fortran_order'").equals("True")) {
            throw bad(name, "is in Fortran order; write it in C order (np.ascontiguousarray)");
        }
        String[] dims = group(SHAPE, header, name, "'shape'").split(",");
        long[] shape = java.util.Arrays.stream(dims).map(String::strip).filter(s -> !s.isEmpty()).mapToLong(s -> {
            try {
                return Long.parseLong(s);
            } catch (NumberFormatException e) {
                throw bad(name, "has a non-integer shape entry '" + s + "'");
            }
        }).toArray();
        long elements = 1;
        for (long s : shape) {
            if (s <= 0) {
                throw bad(name, "has a non-positive dimension in shape " + java.util.Arrays.toString(shape));
            }
            try {
                elements = Math.multiplyExact(elements, s);
            } catch (ArithmeticException e) {
                throw bad(name, "declares shape " + java.util.Arrays.toString(shape) + ", too large");
            }
        }
        long dataStart = headerStart + headerLen;
        long dataBytes;
        try {
            dataBytes = Math.multiplyExact(elements, (long) item);
        } catch (ArithmeticException e) {
            throw bad(name, "declares shape " + java.util.Arrays.toString(shape) + ", too large");
        }
        if (dataBytes > size - dataStart) { // not dataStart + dataBytes > size: that sum can overflow
            throw bad(name, "declares shape " + java.util.Arrays.toString(shape) + " (" + dataBytes + " bytes of data) but only "
                    + (size - dataStart) + " bytes follow the header: the file is truncated or the header lies");
        }
        MemorySegment out = arena.allocate(elements * 4, 64);
        if (item == 4) {
            MemorySegment.copy(bytes, dataStart, out, 0, dataBytes);
        } else {
            for (long i = 0; i < elements; i++) {
                out.setAtIndex(ValueLayout.JAVA_FLOAT, i, Float.float16ToFloat(
                        bytes.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), dataStart + 2 * i)));
            }
        }
        return new Array(out, shape);
    }

    private static String group(Pattern p, String header, String name, String key) {
        Matcher m = p.matcher(header);
        if (!m.find()) {
            throw bad(name, "has no " + key + " entry in its header: " + header.strip());
        }
        return m.group(1);
    }

    private static IllegalArgumentException bad(String name, String what) {
        return new IllegalArgumentException("npy file " + name + " " + what);
    }
}
