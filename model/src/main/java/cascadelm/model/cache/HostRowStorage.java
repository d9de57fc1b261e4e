package cascadelm.model.cache;

import java.util.Arrays;

/** Cache rows in host float arrays, per layer and KV head; the chunk being appended is a host array too. */
public final class HostRowStorage implements RowStorage {
    private final int layers, kvHeads, headDim;
    private int capacity;
    private float[][][] keys;      // [layer][kvHead][row * headDim + d]
    private float[][][] values;
    private final float[][] carryKey, carryValue;
    private final float[] swap;
    private float[] chunkKeys, chunkValues;

    HostRowStorage(int layers, int kvHeads, int headDim, int capacity) {
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.capacity = capacity;
        keys = new float[layers][kvHeads][capacity * headDim];
        values = new float[layers][kvHeads][capacity * headDim];
        carryKey = new float[kvHeads][headDim];
        carryValue = new float[kvHeads][headDim];
        swap = new float[headDim];
    }

    private HostRowStorage(HostRowStorage o) {
        this(o.layers, o.kvHeads, o.headDim, 0);
        capacity = o.capacity;
        keys = deepCopy(o.keys);
        values = deepCopy(o.values);
    }

    /** The storage of a cache the host forward pass reads; fails clearly for device-resident caches. */
    static HostRowStorage of(RowStorage s) {
        if (s instanceof HostRowStorage h) return h;
        throw new IllegalStateException("this cache's rows are not in host memory (" + s.getClass().getSimpleName()
                + "); use it with the session of the backend that created it");
    }

    /** The chunk that the next puts read: un-rotated keys and values, {@code token × kvHeads × headDim}. */
    public void setChunk(float[] k, float[] v) {
        chunkKeys = k;
        chunkValues = v;
    }

    /** Copies rows {@code order[0..n)} of one layer and head into contiguous key and value arrays. */
    public void gather(int layer, int head, int[] order, int n, float[] k, float[] v) {
        float[] ks = keys[layer][head], vs = values[layer][head];
        for (int i = 0; i < n; i++) {
            System.arraycopy(ks, order[i] * headDim, k, i * headDim, headDim);
            System.arraycopy(vs, order[i] * headDim, v, i * headDim, headDim);
        }
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public void ensureCapacity(int rows) {
        if (rows <= capacity) return;
        int grown = (int) Math.min(Integer.MAX_VALUE / Math.max(1, headDim), Math.max(rows, capacity * 3L / 2));
        if (grown < rows) {
            throw new IllegalStateException("the cache cannot hold " + rows + " tokens; use a bounded cache policy");
        }
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                keys[l][h] = Arrays.copyOf(keys[l][h], grown * headDim);
                values[l][h] = Arrays.copyOf(values[l][h], grown * headDim);
            }
        }
        capacity = grown;
    }

    private int chunkOffset(int head, int token) {
        return token * kvHeads * headDim + head * headDim;
    }

    @Override
    public void putFromChunk(int layer, int head, int row, int token, int position) {
        System.arraycopy(chunkKeys, chunkOffset(head, token), keys[layer][head], row * headDim, headDim);
        System.arraycopy(chunkValues, chunkOffset(head, token), values[layer][head], row * headDim, headDim);
    }

    @Override
    public void carryFromChunk(int layer, int head, int token) {
        System.arraycopy(chunkKeys, chunkOffset(head, token), carryKey[head], 0, headDim);
        System.arraycopy(chunkValues, chunkOffset(head, token), carryValue[head], 0, headDim);
    }

    @Override
    public void carryToRow(int layer, int head, int row, int position) {
        System.arraycopy(carryKey[head], 0, keys[layer][head], row * headDim, headDim);
        System.arraycopy(carryValue[head], 0, values[layer][head], row * headDim, headDim);
    }

    @Override
    public void swapCarry(int layer, int head, int row, int position) {
        exchange(keys[layer][head], row * headDim, carryKey[head]);
        exchange(values[layer][head], row * headDim, carryValue[head]);
    }

    private void exchange(float[] rows, int at, float[] carry) {
        System.arraycopy(rows, at, swap, 0, headDim);
        System.arraycopy(carry, 0, rows, at, headDim);
        System.arraycopy(swap, 0, carry, 0, headDim);
    }

    @Override
    public RowStorage copy() {
        return new HostRowStorage(this);
    }

    @Override
    public long bytes() {
        return 2L * layers * kvHeads * (long) capacity * headDim * Float.BYTES;
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
