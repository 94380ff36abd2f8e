package io.vidkv.nativelib;

/** A oneDNN call returned a status other than {@code dnnl_success}; carries the status name. */
public final class DnnlException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int status;
    private final String statusName;

    DnnlException(String call, int status, String statusName, String context) {
        super(call + " failed with " + statusName + " (" + status + ")" + (context == null ? "" : ": " + context));
        this.status = status;
        this.statusName = statusName;
    }

    /** The raw {@code dnnl_status_t}. */
    public int status() {
        return status;
    }

    /** The status as oneDNN names it, e.g. {@code dnnl_unimplemented}. */
    public String statusName() {
        return statusName;
    }
}
