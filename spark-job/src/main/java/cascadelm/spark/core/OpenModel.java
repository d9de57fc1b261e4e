package cascadelm.spark.core;

import cascadelm.kernels.Backend;
import cascadelm.model.llama.LlamaModel;

import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * A model opened in this JVM with the backend that runs it. Spark runs several tasks per executor at once,
 * but a backend runs one call at a time (and already uses every core it was given), so documents take
 * turns: {@link #exclusive} holds the model for one whole document.
 */
public final class OpenModel {
    private final LlamaModel model;
    private final Backend backend;
    private final String name;
    private final ReentrantLock lock = new ReentrantLock(true);

    OpenModel(LlamaModel model, Backend backend, String name) {
        this.model = model;
        this.backend = backend;
        this.name = name;
    }

    public LlamaModel model() {
        return model;
    }

    public Backend backend() {
        return backend;
    }

    /** The model file's name, as result rows report it. */
    public String name() {
        return name;
    }

    public <T> T exclusive(Supplier<T> work) {
        lock.lock();
        try {
            return work.get();
        } finally {
            lock.unlock();
        }
    }
}
