package cascadelm.kernels;

/**
 * Everything the model's forward pass computes, on one device. Activations are row-major float arrays;
 * "n" is the number of token rows processed at once (a prefill chunk, or 1 when decoding).
 * Implementations may use all cores; a single call is not re-entrant with another on the same backend.
 */
public interface Backend extends AutoCloseable {

    /** Short name for logs and results ("cpu", "cuda:0"). */
    String name();

    /**
     * {@code out[t, r] = Σ_c w[r, c] · x[t, c]} for t < n: x is n × w.cols, out is n × w.rows.
     * With n = 1 this is the matrix–vector product of decoding.
     */
    void matmul(Matrix w, float[] x, float[] out, int n);

    /**
     * {@code outs[i] = ws[i] · x} for matrices of the same column count (a layer's Q, K and V; gate and up):
     * what {@link #matmul} does for each, in one call, so that a backend may spread all of them over its
     * workers at once (decoding issues over a hundred products per token, several of them small).
     */
    default void matmuls(Matrix[] ws, float[] x, float[][] outs, int n) {
        if (ws.length != outs.length) {
            throw new IllegalArgumentException(ws.length + " matrices but " + outs.length + " outputs");
        }
        for (int i = 0; i < ws.length; i++) {
            matmul(ws[i], x, outs[i], n);
        }
    }

    /** Row-wise RMSNorm: {@code out[t, :] = x[t, :] / sqrt(mean(x[t, :]²) + eps) * weight}; out may be x. */
    void rmsNorm(float[] x, float[] weight, float[] out, int n, int dim, float eps);

    /**
     * Rotates, in place, the first {@code rope.rotaryDims()} dimensions of each head of each row:
     * x is {@code n × heads × headDim}, row t at position {@code positions[t]}.
     */
    void rope(float[] x, int n, int heads, int headDim, int[] positions, Rope rope);

    /** Softmax in place over {@code x[offset, offset + length)}, in float32 with the max subtracted. */
    void softmax(float[] x, int offset, int length);

    /** {@code gate[i] = silu(gate[i]) * up[i]} for i < length. */
    void swiGlu(float[] gate, float[] up, int length);

    /** {@code a[i] += b[i]} for i < length (residual connections). */
    void add(float[] a, float[] b, int length);

    /**
     * Attention of a chunk of {@code nQ} queries over {@code nKeys} keys, the chunk's own keys being the
     * last nQ of them: query i sees keys {@code [0, nKeys − nQ + i]} (causal inside the chunk).
     *
     * @param q       nQ × nHeads × headDim, positions already applied
     * @param keys    one array per KV head, each at least nKeys × headDim, positions already applied
     * @param values  one array per KV head, each at least nKeys × headDim
     * @param out     nQ × nHeads × headDim
     * @param scores  optional (null): weighted column sums of the probabilities, see {@link AttentionScores}
     * Query head h reads KV head {@code h / (nHeads / nKvHeads)} (grouped-query attention).
     */
    void attention(float[] q, int nQ, int nHeads, int nKvHeads, int headDim,
                   float[][] keys, float[][] values, int nKeys, float scale,
                   float[] out, AttentionScores scores);

    /** Decodes row {@code row} of a weight matrix into {@code out[0, cols)} (embedding lookup). */
    void dequantizeRow(Matrix w, int row, float[] out, int outOffset);

    @Override
    void close();
}
