package cascadelm.kernels;

import cascadelm.kernels.cpu.CpuBackend;
import cascadelm.kernels.cuda.CudaBackend;
import cascadelm.kernels.cuda.CudaDevice;
import cascadelm.kernels.cuda.CudaException;
import cascadelm.kernels.cuda.CudaUnavailableException;

import java.util.Locale;
import java.util.function.Consumer;

/** Opens the backend a {@code --backend auto|cpu|cuda} setting names. */
public final class Backends {
    public static final String AUTO = "auto", CPU = "cpu", CUDA = "cuda";

    private Backends() {
    }

    /** The setting's accepted values, for usage messages. */
    public static String choices() {
        return "auto, cpu, cuda";
    }

    /**
     * @param kind    auto (CUDA when a driver, GPU {@code device} and the kernels are there, else the CPU, saying
     *                why through {@code log} once), cpu, or cuda (fails with the reason when CUDA cannot be used)
     * @param device  the GPU ordinal for CUDA
     * @param threads CPU backend threads (0 = all cores)
     * @throws IllegalArgumentException for an unknown kind or a negative device
     * @throws CudaUnavailableException for cuda when CUDA cannot be used, with the reason
     */
    public static Backend open(String kind, int device, int threads, Consumer<String> log) {
        String k = kind == null ? AUTO : kind.trim().toLowerCase(Locale.ROOT);
        if (device < 0) throw new IllegalArgumentException("the GPU device ordinal must be ≥ 0, got " + device);
        return switch (k) {
            case CPU -> new CpuBackend(threads);
            case CUDA -> {
                try {
                    yield CudaBackend.open(device);
                } catch (CudaException e) {
                    throw new CudaUnavailableException("backend cuda: GPU " + device + " could not be opened: " + e.getMessage());
                } catch (CudaUnavailableException e) {
                    throw new CudaUnavailableException("backend cuda: " + e.getMessage() + "; use backend cpu or auto");
                }
            }
            case AUTO -> {
                String reason = CudaDevice.unavailableReason(device);
                if (reason == null) {
                    try {
                        yield CudaBackend.open(device);
                    } catch (CudaException | CudaUnavailableException e) {
                        reason = e.getMessage();
                    }
                }
                log.accept("backend auto: using the CPU (" + reason + ")");
                yield new CpuBackend(threads);
            }
            default -> throw new IllegalArgumentException("backend '" + kind + "' must be one of " + choices());
        };
    }
}
