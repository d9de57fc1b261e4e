package cascadelm.model.cache;

import cascadelm.kernels.AttentionScores;

/**
 * What the attention layers remember of the tokens seen so far, per layer and per KV head. The forward
 * pass talks only to this interface and never knows the policy (full, window, sink, cascading).
 *
 * <p>Protocol for one chunk of n tokens: for each layer, {@link #read} the cached rows, run attention over
 * them plus the chunk, then {@link #append} the chunk's keys and values; after the last layer,
 * {@link #commit}. Keys are stored without rotary embedding: the policy decides each row's position
 * ({@link #positions}), and the forward pass rotates at attention time.
 */
public interface KvCache {

    /** Rows the next chunk's queries see before the chunk itself; the same in every layer and head. */
    int rows();

    /**
     * Writes the rotary position of each of the first {@link #rows()} rows of one layer and KV head, in
     * attention order (heads may hold different tokens, so with original positions they may differ).
     */
    void positions(int layer, int kvHead, int[] out);

    /** Rotary position of the first token of the next chunk; the chunk's tokens follow consecutively. */
    int nextPosition();

    /** Copies the un-rotated keys and the values of rows [0, rows()) of one layer and KV head, row-major (host rows only). */
    default void read(int layer, int kvHead, float[] keys, float[] values) {
        HostRowStorage.of(storage()).gather(layer, kvHead, attentionOrder(), rows(), keys, values);
    }

    /** Storage rows in attention order: the i-th row attention sees, i < rows(); the same in every layer and head. */
    int[] attentionOrder();

    /**
     * True when cached keys are rotated at their tokens' own document positions (as stored beside the rows),
     * false when row i of the attention order is rotated at position i.
     */
    boolean originalPositions();

    /** Where the key and value rows live. */
    RowStorage storage();

    /**
     * The attention-probability sums this policy needs for a chunk of {@code n} queries at this layer, or
     * null when it needs none. The backend fills {@code out} during attention; {@link #append} reads it.
     */
    AttentionScores scoreRequest(int layer, int n);

    /** Stores the chunk's un-rotated keys and values, {@code n × kvHeads × headDim} each, of one layer (host rows). */
    default void append(int layer, float[] keys, float[] values, int n) {
        HostRowStorage.of(storage()).setChunk(keys, values);
        append(layer, n);
    }

    /**
     * Stores one layer's rows of the chunk of {@code n} tokens that the storage holds as its current chunk (for
     * host storage, set by {@link #append(int, float[], float[], int)}).
     */
    void append(int layer, int n);

    /** Ends a chunk once every layer has appended it. */
    void commit(int n);

    /**
     * Document indices (0 = the first token read) of the tokens one layer and KV head holds now, in attention
     * order, or null when the policy does not track them. For evaluations that ask which tokens survived.
     */
    default int[] heldTokens(int layer, int kvHead) {
        return null;
    }

    /** Tokens seen since the start of the document (not all of them are still held). */
    long tokensSeen();

    /** Bytes of key, value and bookkeeping memory this cache holds now. */
    long bytes();

    /** Frees the rows' memory now when the garbage collector does not manage it (device memory); the cache is unusable after. */
    default void release() {
        storage().release();
    }

    /** An independent copy of the current state (a document read once, answered many times). */
    KvCache copy();

    /** Short description for logs and results, e.g. "full" or "cascade(S=64,C=4,M=65536)". */
    String describe();
}
