package io.vidkv.nativelib;

import io.vidkv.bindings.dnnl.Dnnl_h;

/** The oneDNN element types vidkv uses. */
public enum DnnlDataType {
    F32(4), BF16(2), F16(2);

    private final int bytes;

    DnnlDataType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    int dnnl() {
        return switch (this) {
            case F32 -> Dnnl_h.dnnl_f32();
            case BF16 -> Dnnl_h.dnnl_bf16();
            case F16 -> Dnnl_h.dnnl_f16();
        };
    }
}
