package cascadelm.model.cache;

import cascadelm.kernels.AttentionScores;

import java.util.Arrays;

/**
 * Exact attention: every token is kept, at its own position. The reference the bounded policies are
 * measured against; its memory grows with the document.
 */
public final class FullCache implements KvCache {
    private final int layers;
    private final int kvHeads;
    private final int headDim;
    private float[][][] keys;   // [layer][kvHead][row * headDim + d]
    private float[][][] values;
    private int rows;
    private int capacity;

    public FullCache(int layers, int kvHeads, int headDim, int initialCapacity) {
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.capacity = Math.max(1, initialCapacity);
        this.keys = new float[layers][kvHeads][capacity * headDim];
        this.values = new float[layers][kvHeads][capacity * headDim];
    }

    private FullCache(FullCache other) {
        this.layers = other.layers;
        this.kvHeads = other.kvHeads;
        this.headDim = other.headDim;
        this.capacity = other.capacity;
        this.rows = other.rows;
        this.keys = deepCopy(other.keys);
        this.values = deepCopy(other.values);
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
    public int nextPosition() {
        return rows;
    }

    @Override
    public void read(int layer, int kvHead, float[] k, float[] v) {
        System.arraycopy(keys[layer][kvHead], 0, k, 0, rows * headDim);
        System.arraycopy(values[layer][kvHead], 0, v, 0, rows * headDim);
    }

    @Override
    public AttentionScores scoreRequest(int layer, int n) {
        return null;
    }

    @Override
    public void append(int layer, float[] k, float[] v, int n) {
        ensureCapacity(rows + n);
        int kvDim = kvHeads * headDim;
        for (int h = 0; h < kvHeads; h++) {
            for (int i = 0; i < n; i++) {
                System.arraycopy(k, i * kvDim + h * headDim, keys[layer][h], (rows + i) * headDim, headDim);
                System.arraycopy(v, i * kvDim + h * headDim, values[layer][h], (rows + i) * headDim, headDim);
            }
        }
    }

    @Override
    public void commit(int n) {
        rows += n;
    }

    @Override
    public long tokensSeen() {
        return rows;
    }

    @Override
    public long bytes() {
        return 2L * layers * kvHeads * (long) capacity * headDim * Float.BYTES;
    }

    @Override
    public KvCache copy() {
        return new FullCache(this);
    }

    @Override
    public String describe() {
        return "full";
    }

    private void ensureCapacity(int needed) {
        if (needed <= capacity) return;
        int grown = (int) Math.min(Integer.MAX_VALUE / Math.max(1, headDim), Math.max(needed, capacity * 3L / 2));
        if (grown < needed) {
            throw new IllegalStateException("full cache cannot hold " + needed + " tokens; use a bounded cache policy");
        }
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                keys[l][h] = Arrays.copyOf(keys[l][h], grown * headDim);
                values[l][h] = Arrays.copyOf(values[l][h], grown * headDim);
            }
        }
        capacity = grown;
    }

    private static float[][][] deepCopy(float[][][] a) {
        float[][][] c = new float[a.length][][];
        for (int i = 0; i < a.length; i++) {
            c[i] = new float[a[i].length][];
            for (int j = 0; j < a[i].length; j++) c[i][j] = a[i][j].clone();
        }
        return c;
    }
}
