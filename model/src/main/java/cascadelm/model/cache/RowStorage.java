package cascadelm.model.cache;

/**
 * Where a cache's key and value rows live — host arrays or device memory — and the few ways a policy moves
 * them. Each layer and KV head has {@link #capacity()} rows of un-rotated keys and values. The policy keeps
 * its bookkeeping (which token is in which row, positions, scores) itself and only tells the storage what to
 * move, so one policy implementation drives any storage.
 *
 * <p>Rows come from the chunk being appended (token j of it, laid out {@code token × kvHeads × headDim} by the
 * forward pass) or from the carry: one row per layer and KV head in flight between slots, which the
 * cascading cache uses to push an entry from one cascade to the next. Each write names the position the
 * written row then holds, for storages that keep a copy of positions beside the rows (the device's).
 */
public interface RowStorage {

    /** Rows per layer and KV head. */
    int capacity();

    /** Grows to at least {@code rows} rows per layer and KV head, keeping every row's contents. */
    void ensureCapacity(int rows);

    /** Row ← token {@code token} of the chunk being appended. */
    void putFromChunk(int layer, int kvHead, int row, int token, int position);

    /** Carry ← token {@code token} of the chunk being appended. */
    void carryFromChunk(int layer, int kvHead, int token);

    /** Row ← carry; the carry stays as it is. */
    void carryToRow(int layer, int kvHead, int row, int position);

    /** Row and carry exchange contents; {@code position} is the carry's, which the row now holds. */
    void swapCarry(int layer, int kvHead, int row, int position);

    /** An independent copy of every row (a snapshot). */
    RowStorage copy();

    /** Bytes of key and value memory held. */
    long bytes();

    /** Frees memory that the garbage collector does not manage (device memory) now; the storage is unusable after. */
    default void release() {
    }

    /** Makes the storage for a cache of the given shape. */
    interface Factory {
        RowStorage create(int layers, int kvHeads, int headDim, int capacity);
    }

    /** Host arrays: what the CPU backend reads. */
    Factory HOST = HostRowStorage::new;
}
