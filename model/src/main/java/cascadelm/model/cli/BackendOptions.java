package cascadelm.model.cli;

import cascadelm.kernels.Backend;
import cascadelm.kernels.Backends;
import cascadelm.kernels.cuda.CudaUnavailableException;
import picocli.CommandLine.Option;

import java.io.PrintWriter;

/** {@code --backend} and {@code --device}, shared by the commands that run a model (public: bench uses them too). */
public final class BackendOptions {
    @Option(names = "--backend", defaultValue = "auto", paramLabel = "auto|cpu|cuda",
            description = "Where the model runs: cuda (an NVIDIA GPU), cpu, or auto: the GPU when a CUDA driver, a GPU and"
                    + " the kernels are there, else the CPU, saying why on stderr (default: ${DEFAULT-VALUE}).")
    public String backend;

    @Option(names = "--device", defaultValue = "0", paramLabel = "N",
            description = "GPU ordinal for the CUDA backend (default: ${DEFAULT-VALUE}).")
    public int device;

    /** Opens the backend; auto's CPU fallback is one line on {@code err}; an unusable choice is a usage error. */
    public Backend open(int threads, PrintWriter err) {
        try {
            return Backends.open(backend, device, threads, reason -> {
                err.println("cascade-lm: " + reason);
                err.flush();
            });
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException("--backend/--device: " + e.getMessage());
        } catch (CudaUnavailableException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }
}
