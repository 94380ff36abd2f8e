package io.vidkv.fuzz;

/**
 * Reads structured choices from the front of a fuzzer's byte input, little-endian, returning zeros
 * once the bytes run out (so every input, including the empty one, decodes to something). Seeds are
 * written with {@link Seeds.Writer}, which emits bytes in the same order, so a corpus file is a
 * readable recipe and the fuzzer mutates the choices directly.
 */
public final class FuzzInput {

    private final byte[] data;
    private int pos;

    public FuzzInput(byte[] data) {
        this.data = data;
    }

    public boolean exhausted() {
        return pos >= data.length;
    }

    public int u8() {
        return pos < data.length ? data[pos++] & 0xFF : 0;
    }

    public int u16() {
        return u8() | u8() << 8;
    }

    public int i32() {
        return u16() | u16() << 16;
    }

    public long i64() {
        return (i32() & 0xFFFFFFFFL) | (long) i32() << 32;
    }

    public boolean bool() {
        return (u8() & 1) != 0;
    }

    /** An int in [0, n). */
    public int below(int n) {
        return n <= 256 ? u8() % n : Math.floorMod(u16(), n);
    }

    public <T> T pick(T[] options) {
        return options[u8() % options.length];
    }

    public float f32() {
        return Float.intBitsToFloat(i32());
    }

    public double f64() {
        return Double.longBitsToDouble(i64());
    }
}
