package cascadelm.model.llama;

import cascadelm.kernels.Backend;
import cascadelm.kernels.cuda.CudaBackend;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.cache.Caches;
import cascadelm.model.cache.KvCache;
import cascadelm.model.cache.RowStorage;
import cascadelm.model.cuda.CudaSession;
import cascadelm.model.cuda.DeviceKvCache;

/**
 * Sessions and caches for whichever backend is in use: the host {@link Session} for the CPU, the
 * device-resident {@link CudaSession} with its {@link DeviceKvCache} (rows, bookkeeping and updates in GPU memory)
 * for CUDA. Callers never pick the class.
 */
public final class ModelSessions {
    private ModelSessions() {
    }

    /** A cache for {@code backend}: host rows and bookkeeping, or everything in the backend's GPU memory. */
    public static KvCache cache(Backend backend, CacheSettings s, ModelConfig c, int expectedTokens) {
        if (backend instanceof CudaBackend cuda) {
            return DeviceKvCache.create(cuda, s, c.layers(), c.heads(), c.kvHeads(), c.headDim(), expectedTokens);
        }
        return Caches.create(s, c.layers(), c.heads(), c.kvHeads(), c.headDim(), expectedTokens, RowStorage.HOST);
    }

    /** A session over {@code cache} (made by {@link #cache} for the same backend). */
    public static ModelSession open(LlamaModel model, Backend backend, KvCache cache, int maxChunk) {
        return backend instanceof CudaBackend cuda ? new CudaSession(model, cuda, cache, maxChunk)
                : new Session(model, backend, cache, maxChunk);
    }

    /** A fresh cache and a session over it. */
    public static ModelSession open(LlamaModel model, Backend backend, CacheSettings s, int expectedTokens, int maxChunk) {
        return open(model, backend, cache(backend, s, model.config(), expectedTokens), maxChunk);
    }
}
