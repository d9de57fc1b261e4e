package cascadelm.kernels.cuda;

/** A CUDA driver or cuBLAS call returned an error status; the message names the call and the error. */
public final class CudaException extends RuntimeException {
    private final String call;
    private final int status;

    public CudaException(String call, int status, String errorName, String description) {
        super(call + " failed: " + errorName + " (" + status + ")" + (description == null ? "" : ": " + description));
        this.call = call;
        this.status = status;
    }

    /** The API function that failed, e.g. "cuMemAlloc_v2". */
    public String call() {
        return call;
    }

    /** The raw CUresult or cublasStatus_t. */
    public int status() {
        return status;
    }
}
