package cascadelm.spark.core;

import cascadelm.kernels.Backend;
import cascadelm.kernels.Backends;
import cascadelm.kernels.cuda.CudaUnavailableException;
import cascadelm.model.llama.LlamaModel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The models open in this JVM: each is opened (memory-mapped) once, on first use, and then serves every
 * task the executor runs, for the life of the JVM. Keyed by the model file and the settings that decide how
 * it is opened (backend, GPU ordinal, threads); cache settings only shape each document's cache, so jobs that differ
 * in them share one open model. The GPU is the one Spark assigned to the task ({@link GpuAssignment}).
 */
public final class ExecutorModel {
    private record Key(Path model, String backend, int device, int threads) {
    }

    private static final Map<Key, OpenModel> OPEN = new ConcurrentHashMap<>();

    private ExecutorModel() {
    }

    /** The model the settings name, opened at {@code modelFile} (the settings' path as this node sees it). */
    public static OpenModel get(Path modelFile, JobSettings settings) {
        Key key = new Key(modelFile.toAbsolutePath().normalize(), settings.backend(),
                settings.backend().equals("cpu") ? 0 : GpuAssignment.ordinal(settings), settings.threads());
        return OPEN.computeIfAbsent(key, ExecutorModel::open);
    }

    public static OpenModel get(JobSettings settings) {
        return get(Path.of(settings.modelPath()), settings);
    }

    /**
     * Opens the model and closes it again: the driver calls this before any work so that a missing or
     * malformed model, or an unavailable backend, fails the job at once with one line.
     */
    public static void check(Path modelFile, JobSettings settings) throws IOException {
        requireReadable(modelFile);
        backendFor(settings.backend(), settings.device(), settings.threads(), reason -> { }).close();
        LlamaModel.open(modelFile).close();
    }

    private static OpenModel open(Key key) {
        try {
            requireReadable(key.model());
            LlamaModel model = LlamaModel.open(key.model());
            StringBuilder fallback = new StringBuilder();
            Backend backend = backendFor(key.backend(), key.device(), key.threads(), reason -> fallback.append(" (").append(reason).append(")"));
            // Straight to stderr, once per JVM and backend: it lands in each executor's log whatever logging the
            // cluster runs, and says which backend the documents go to (DESIGN.md: the CPU fallback is announced).
            // Which GPU, and from where: the executor log is where a wrong discovery script shows. Named also when
            // backend=auto fell back to the CPU: the assignment is still worth seeing (SparkClusterTest reads it).
            String gpu = key.backend().equals("cpu") ? ""
                    : ", GPU " + key.device() + (GpuAssignment.assigned() != null ? " (assigned by Spark)" : " (the device setting)");
            System.err.println("cascade-lm: opened " + key.model() + " on the " + backend.name() + " backend"
                    + fallback + gpu + ", pid " + ProcessHandle.current().pid());
            return new OpenModel(model, backend, key.model().getFileName().toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open model " + key.model() + ": " + e.getMessage(), e);
        }
    }

    private static Backend backendFor(String name, int device, int threads, java.util.function.Consumer<String> fallback) {
        try {
            return Backends.open(name, device, threads, fallback);
        } catch (CudaUnavailableException e) {
            // Asking for the GPU explicitly and not getting it is an error, never a silent fallback (DESIGN.md).
            throw new ModelUnavailableException(e.getMessage());
        }
    }

    private static void requireReadable(Path p) {
        if (!Files.isRegularFile(p)) throw new ModelUnavailableException("model file not found: " + p);
        if (!Files.isReadable(p)) throw new ModelUnavailableException("model file is not readable: " + p);
    }

    /** The model or its backend cannot be used: the job stops before any work. */
    public static final class ModelUnavailableException extends RuntimeException {
        public ModelUnavailableException(String message) {
            super(message);
        }
    }
}
