package cascadelm.model.cache;

import cascadelm.kernels.AttentionScores;

/**
 * What the fixed-memory policies share: sinks followed by {@code slots} rows per layer and KV head,
 * allocated once; keys stored un-rotated; rows presented to attention in an order the policy defines
 * (oldest first); rotary positions either re-assigned by that order or the tokens' own.
 */
abstract class BoundedCache implements KvCache {
    final int layers, kvHeads, headDim, sinks;
    final boolean originalPositions;
    final RowStore store;
    /** Attention order: {@code order[i]} is the store row of the i-th row attention sees. */
    int[] order;
    int rows;
    long seen;

    BoundedCache(int layers, int kvHeads, int headDim, int sinks, int slots, boolean originalPositions,
                 RowStorage.Factory storage) {
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.sinks = sinks;
        this.originalPositions = originalPositions;
        this.store = new RowStore(layers, kvHeads, headDim, sinks + slots, storage);
        this.order = new int[sinks + slots];
    }

    BoundedCache(BoundedCache o) {
        this.layers = o.layers;
        this.kvHeads = o.kvHeads;
        this.headDim = o.headDim;
        this.sinks = o.sinks;
        this.originalPositions = o.originalPositions;
        this.store = new RowStore(o.store);
        this.order = o.order.clone();
        this.rows = o.rows;
        this.seen = o.seen;
    }

    /** Adds the token at document index {@code t} (token {@code token} of the chunk) to one layer's state. */
    abstract void insert(int layer, long t, int token, float[] scoreByHead);

    /** {@link #insert} from host arrays, row {@code tokenRowOffset / kvDim} of them (for tests). */
    void insert(int layer, long t, float[] k, float[] v, int tokenRowOffset, float[] scoreByHead) {
        HostRowStorage.of(store.data).setChunk(k, v);
        insert(layer, t, tokenRowOffset / (kvHeads * headDim), scoreByHead);
    }

    /** Recomputes {@link #order} and {@link #rows} from layer 0's state once a chunk is committed. */
    abstract void rebuildOrder();

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public void positions(int layer, int kvHead, int[] out) {
        if (originalPositions) {
            int[] p = store.positions[layer][kvHead];
            for (int i = 0; i < rows; i++) out[i] = p[order[i]];
        } else {
            for (int i = 0; i < rows; i++) out[i] = i;
        }
    }

    @Override
    public int[] heldTokens(int layer, int kvHead) {
        int[] p = store.positions[layer][kvHead];
        int[] out = new int[rows];
        for (int i = 0; i < rows; i++) out[i] = p[order[i]];
        return out;
    }

    @Override
    public int nextPosition() {
        return originalPositions ? Math.toIntExact(seen) : rows;
    }

    @Override
    public int[] attentionOrder() {
        return order;
    }

    @Override
    public boolean originalPositions() {
        return originalPositions;
    }

    @Override
    public RowStorage storage() {
        return store.data;
    }

    @Override
    public AttentionScores scoreRequest(int layer, int n) {
        return null;
    }

    @Override
    public void append(int layer, int n) {
        float[] noScores = new float[kvHeads];
        for (int j = 0; j < n; j++) {
            insert(layer, seen + j, j, noScores);
        }
    }

    @Override
    public void commit(int n) {
        seen += n;
        rebuildOrder();
    }

    @Override
    public long tokensSeen() {
        return seen;
    }

    @Override
    public long bytes() {
        return store.bytes() + (long) order.length * Integer.BYTES;
    }
}
