package cascadelm.model.cache;

import cascadelm.kernels.AttentionScores;

/**
 * Exact attention: every token is kept, at its own position. The reference the bounded policies are
 * measured against; its memory grows with the document.
 */
public final class FullCache implements KvCache {
    private final int layers;
    private final int kvHeads;
    private final int headDim;
    private final RowStorage storage;
    private int[] order;   // the identity: row i is token i
    private int rows;

    public FullCache(int layers, int kvHeads, int headDim, int initialCapacity) {
        this(layers, kvHeads, headDim, initialCapacity, RowStorage.HOST);
    }

    public FullCache(int layers, int kvHeads, int headDim, int initialCapacity, RowStorage.Factory storage) {
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.storage = storage.create(layers, kvHeads, headDim, Math.max(1, initialCapacity));
        this.order = identity(this.storage.capacity());
    }

    private FullCache(FullCache other) {
        this.layers = other.layers;
        this.kvHeads = other.kvHeads;
        this.headDim = other.headDim;
        this.rows = other.rows;
        this.storage = other.storage.copy();
        this.order = other.order.clone();
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public void positions(int layer, int kvHead, int[] out) {
        for (int i = 0; i < rows; i++) out[i] = i;
    }

    @Override
    public int[] heldTokens(int layer, int kvHead) {
        int[] out = new int[rows];
        for (int i = 0; i < rows; i++) out[i] = i;
        return out;
    }

    @Override
    public int nextPosition() {
        return rows;
    }

    @Override
    public int[] attentionOrder() {
        return order;
    }

    @Override
    public boolean originalPositions() {
        return false;   // row i is token i: its own position and its attention index agree
    }

    @Override
    public RowStorage storage() {
        return storage;
    }

    @Override
    public AttentionScores scoreRequest(int layer, int n) {
        return null;
    }

    @Override
    public void append(int layer, int n) {
        storage.ensureCapacity(rows + n);
        for (int h = 0; h < kvHeads; h++) {
            for (int i = 0; i < n; i++) storage.putFromChunk(layer, h, rows + i, i, rows + i);
        }
    }

    @Override
    public void commit(int n) {
        rows += n;
        if (order.length < storage.capacity()) order = identity(storage.capacity());
    }

    @Override
    public long tokensSeen() {
        return rows;
    }

    @Override
    public long bytes() {
        return storage.bytes();
    }

    @Override
    public KvCache copy() {
        return new FullCache(this);
    }

    @Override
    public String describe() {
        return "full";
    }

    private static int[] identity(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        return a;
    }
}
