package cascadelm.kernels.cuda;

/** CUDA cannot be used here; the message is the reason ("no CUDA driver found (...)", "built without CUDA kernels"). */
public final class CudaUnavailableException extends RuntimeException {
    public CudaUnavailableException(String reason) {
        super(reason);
    }
}
