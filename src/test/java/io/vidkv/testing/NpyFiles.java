package io.vidkv.testing;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Builds .npy file bytes for reader tests and fuzz seeds. */
public final class NpyFiles {

    private NpyFiles() {
    }

    /**
     * A .npy file of format {@code version} with dictionary {@code header} (padded so the data start
     * 64-byte aligned) and {@code dataBytes} of data: float32 values {@code first + 0.5 i}, then one
     * float16 1.5 if {@code dataBytes} is 2 mod 4. Lying headers are the point: nothing is checked.
     */
    public static byte[] build(String header, int dataBytes, int version, float first) {
        String h = header;
        int pre = version == 1 ? 10 : 12;
        while ((pre + h.length() + 1) % 64 != 0) {
            h += " ";
        }
        h += "\n";
        ByteBuffer b = ByteBuffer.allocate(pre + h.length() + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.ISO_8859_1)).put((byte) version).put((byte) 0);
        if (version == 1) {
            b.putShort((short) h.length());
        } else {
            b.putInt(h.length());
        }
        b.put(h.getBytes(StandardCharsets.ISO_8859_1));
        for (int i = 0; i < dataBytes / 4; i++) {
            b.putFloat(first + i * 0.5f);
        }
        if (dataBytes % 4 == 2) {
            b.putShort(Float.floatToFloat16(1.5f));
        }
        return b.array();
    }
}
