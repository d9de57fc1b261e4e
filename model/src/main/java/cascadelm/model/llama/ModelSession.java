package cascadelm.model.llama;

import cascadelm.model.cache.KvCache;

/**
 * One reading of one token stream through a model, on some backend: the CPU {@link Session} over host
 * arrays, or the CUDA session with weights, activations and cache rows in device memory. Tokens go through
 * {@link #forward} in chunks of at most {@link #maxChunk}; a chunk's queries attend to what the cache holds plus
 * the chunk itself, then the chunk enters the cache.
 */
public interface ModelSession extends AutoCloseable {

    /**
     * Runs {@code n ≤ maxChunk} tokens through the model. Returns the logits of the last token (a buffer
     * reused by the next call), or, with {@code allOut}, writes every token's logits into
     * {@code allOut[n × vocab]} and returns that.
     */
    float[] forward(int[] tokens, int offset, int n, float[] allOut);

    /**
     * Runs one token (a decode step, as {@code forward(token, 0, 1, null)}) and returns the greedy next token: the
     * lowest id among the largest logits, as {@code Sampler.argmax} takes it. A backend that can pick it where the
     * logits are (the GPU) returns only the token, and skips the upload when it is fed straight back.
     */
    default int decodeGreedy(int token) {
        float[] logits = forward(new int[]{token}, 0, 1, null);
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    KvCache cache();

    /** Continues from another cache state (a copy of a snapshot); the caller keeps the original. */
    void setCache(KvCache cache);

    int maxChunk();

    /** Frees memory the garbage collector does not manage (device buffers); the session is unusable after. */
    @Override
    default void close() {
    }
}
