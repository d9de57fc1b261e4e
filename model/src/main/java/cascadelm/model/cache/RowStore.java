package cascadelm.model.cache;

/**
 * A fixed number of cache rows per layer and KV head, allocated once: the key and value rows themselves (in
 * a {@link RowStorage}, host or device) and, on the host, the document position of each row's token and its
 * attention score, which the policies' bookkeeping reads.
 */
final class RowStore {
    final int layers, kvHeads, headDim, rows;
    final RowStorage data;
    final int[][][] positions;   // [layer][kvHead][row]
    final float[][][] scores;

    RowStore(int layers, int kvHeads, int headDim, int rows, RowStorage.Factory storage) {
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.rows = rows;
        this.data = storage.create(layers, kvHeads, headDim, rows);
        positions = new int[layers][kvHeads][rows];
        scores = new float[layers][kvHeads][rows];
    }

    RowStore(RowStore o) {
        this.layers = o.layers;
        this.kvHeads = o.kvHeads;
        this.headDim = o.headDim;
        this.rows = o.rows;
        this.data = o.data.copy();
        positions = new int[layers][kvHeads][rows];
        scores = new float[layers][kvHeads][rows];
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                System.arraycopy(o.positions[l][h], 0, positions[l][h], 0, rows);
                System.arraycopy(o.scores[l][h], 0, scores[l][h], 0, rows);
            }
        }
    }

    /** Writes one row of one head from token {@code token} of the chunk being appended. */
    void put(int layer, int head, int row, int token, int position, float score) {
        data.putFromChunk(layer, head, row, token, position);
        positions[layer][head][row] = position;
        scores[layer][head][row] = score;
    }

    long bytes() {
        // keys + values, position (int) and score (float) per row.
        return data.bytes() + (long) layers * kvHeads * rows * (Integer.BYTES + Float.BYTES);
    }
}
