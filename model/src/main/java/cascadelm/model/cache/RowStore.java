package cascadelm.model.cache;

/**
 * A fixed number of cache rows per layer and KV head, allocated once: un-rotated keys, values, the
 * document position of each row's token, and its attention score.
 */
final class RowStore {
    final int layers, kvHeads, headDim, rows;
    final float[][][] keys;      // [layer][kvHead][row * headDim + d]
    final float[][][] values;
    final int[][][] positions;   // [layer][kvHead][row]
    final float[][][] scores;

    RowStore(int layers, int kvHeads, int headDim, int rows) {
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.rows = rows;
        keys = new float[layers][kvHeads][rows * headDim];
        values = new float[layers][kvHeads][rows * headDim];
        positions = new int[layers][kvHeads][rows];
        scores = new float[layers][kvHeads][rows];
    }

    RowStore(RowStore o) {
        this(o.layers, o.kvHeads, o.headDim, o.rows);
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                System.arraycopy(o.keys[l][h], 0, keys[l][h], 0, keys[l][h].length);
                System.arraycopy(o.values[l][h], 0, values[l][h], 0, values[l][h].length);
                System.arraycopy(o.positions[l][h], 0, positions[l][h], 0, rows);
                System.arraycopy(o.scores[l][h], 0, scores[l][h], 0, rows);
            }
        }
    }

    /** Writes one row of one head from a chunk laid out as {@code token × kvHeads × headDim}. */
    void put(int layer, int head, int row, float[] k, float[] v, int tokenRowOffset, int position, float score) {
        int from = tokenRowOffset + head * headDim;
        System.arraycopy(k, from, keys[layer][head], row * headDim, headDim);
        System.arraycopy(v, from, values[layer][head], row * headDim, headDim);
        positions[layer][head][row] = position;
        scores[layer][head][row] = score;
    }

    /** Copies rows {@code order[0..n)} of one layer and head into contiguous key and value arrays. */
    void gather(int layer, int head, int[] order, int n, float[] k, float[] v) {
        float[] ks = keys[layer][head], vs = values[layer][head];
        for (int i = 0; i < n; i++) {
            System.arraycopy(ks, order[i] * headDim, k, i * headDim, headDim);
            System.arraycopy(vs, order[i] * headDim, v, i * headDim, headDim);
        }
    }

    long bytes() {
        // keys + values (float), position (int) and score (float) per row.
        return (long) layers * kvHeads * rows * (2L * headDim * Float.BYTES + Integer.BYTES + Float.BYTES);
    }
}
