package cascadelm.model.llama;

import cascadelm.kernels.AttentionScores;
import cascadelm.kernels.Backend;
import cascadelm.kernels.Matrix;
import cascadelm.model.cache.KvCache;

/**
 * One reading of one token stream through a model on a host-array {@link Backend} (the CPU): the KV cache and
 * the activation buffers, apart from the weights (one {@link LlamaModel} serves many sessions). Tokens go
 * through {@link #forward} in chunks; a chunk's queries attend to what the cache holds plus the chunk itself,
 * then the chunk enters the cache.
 */
public final class Session implements ModelSession {
    private final LlamaModel model;
    private final ModelConfig c;
    private final Backend backend;
    private KvCache cache;
    private final int maxChunk;

    // Activations for a chunk of up to maxChunk tokens, row-major.
    private final float[] x, xb, xb2, q, k, kRaw, v, att, hb, hb2, logits;
    // The outputs of the products that share an input: Q, K, V and gate, up.
    private final float[][] qkv, gateUp;
    private final int[] queryPositions;
    // Keys and values per KV head as attention sees them: cached rows, then the chunk. Grown on demand.
    private float[][] keys, values;
    private int[] cachedPositions = new int[0];
    private boolean bf16Rows;

    public Session(LlamaModel model, Backend backend, KvCache cache, int maxChunk) {
        if (maxChunk < 1) throw new IllegalArgumentException("chunk size must be at least 1, got " + maxChunk);
        this.model = model;
        this.c = model.config();
        this.backend = backend;
        this.cache = cache;
        this.maxChunk = maxChunk;
        x = new float[maxChunk * c.dim()];
        xb = new float[maxChunk * Math.max(c.dim(), c.qDim())];
        xb2 = new float[maxChunk * c.dim()];
        q = new float[maxChunk * c.qDim()];
        k = new float[maxChunk * c.kvDim()];
        kRaw = new float[maxChunk * c.kvDim()];
        v = new float[maxChunk * c.kvDim()];
        att = new float[maxChunk * c.qDim()];
        hb = new float[maxChunk * c.ffnDim()];
        hb2 = new float[maxChunk * c.ffnDim()];
        qkv = new float[][] {q, k, v};
        gateUp = new float[][] {hb, hb2};
        logits = new float[c.vocabularySize()];
        queryPositions = new int[maxChunk];
        keys = new float[c.kvHeads()][0];
        values = new float[c.kvHeads()][0];
    }

    @Override
    public KvCache cache() {
        return cache;
    }

    /** Continues from another cache state (a copy of a snapshot); the caller keeps the original. */
    @Override
    public void setCache(KvCache cache) {
        this.cache = cache;
    }

    @Override
    public int maxChunk() {
        return maxChunk;
    }

    /**
     * With {@code on}, every key (before rotation) and value row is rounded to bfloat16 (nearest even) as soon as
     * the QKV product forms it, for the chunk's own attention and for the cache alike: exactly what the CUDA
     * session's device cache stores. A reference for the GPU tests that leaves only float32 rounding-order
     * differences between the two backends (the CPU's own cache stays float32 by default).
     */
    public void roundRowsToBf16(boolean on) {
        this.bf16Rows = on;
    }

    /**
     * Runs {@code n ≤ maxChunk} tokens through the model. Returns the logits of the last token (a buffer
     * reused by the next call), or, with {@code allLogits}, writes every token's logits into
     * {@code allOut[n × vocab]} and returns that.
     */
    @Override
    public float[] forward(int[] tokens, int offset, int n, float[] allOut) {
        if (n < 1 || n > maxChunk) throw new IllegalArgumentException("chunk of " + n + " tokens, limit " + maxChunk);
        int dim = c.dim();
        int vocab = c.vocabularySize();
        ModelWeights w = model.weights();
        for (int i = 0; i < n; i++) {
            int token = tokens[offset + i];
            if (token < 0 || token >= vocab) {
                throw new IllegalArgumentException("token id " + token + " is outside the vocabulary [0, " + vocab + ")");
            }
            backend.dequantizeRow(w.tokenEmbedding(), token, x, i * dim);
        }
        int first = cache.nextPosition();
        for (int i = 0; i < n; i++) queryPositions[i] = first + i;

        for (int l = 0; l < c.layers(); l++) {
            LayerWeights lw = w.layers().get(l);
            attention(l, lw, n);
            feedForward(lw, n);
        }
        cache.commit(n);

        if (allOut != null) {
            backend.rmsNorm(x, w.outputNorm(), xb, n, dim, c.rmsEps());
            backend.matmul(w.output(), xb, allOut, n);
            return allOut;
        }
        float[] last = new float[dim];
        System.arraycopy(x, (n - 1) * dim, last, 0, dim);
        backend.rmsNorm(last, w.outputNorm(), last, 1, dim, c.rmsEps());
        backend.matmul(w.output(), last, logits, 1);
        return logits;
    }

    private void attention(int layer, LayerWeights lw, int n) {
        int hd = c.headDim();
        int kvDim = c.kvDim();
        backend.rmsNorm(x, lw.attentionNorm(), xb, n, c.dim(), c.rmsEps());
        backend.matmuls(new Matrix[] {lw.wq(), lw.wk(), lw.wv()}, xb, qkv, n);
        addBias(q, lw.bq(), n);
        addBias(k, lw.bk(), n);
        addBias(v, lw.bv(), n);
        if (bf16Rows) {
            roundToBf16(k, n * kvDim);
            roundToBf16(v, n * kvDim);
        }
        System.arraycopy(k, 0, kRaw, 0, n * kvDim);   // the cache stores keys before rotation
        backend.rope(q, n, c.heads(), hd, queryPositions, model.weights().rope());
        backend.rope(k, n, c.kvHeads(), hd, queryPositions, model.weights().rope());

        int rows = cache.rows();
        ensureKeyCapacity(rows + n);
        if (cachedPositions.length < rows) cachedPositions = new int[rows];
        for (int g = 0; g < c.kvHeads(); g++) {
            cache.read(layer, g, keys[g], values[g]);
            cache.positions(layer, g, cachedPositions);
            if (rows > 0) backend.rope(keys[g], rows, 1, hd, cachedPositions, model.weights().rope());
            for (int i = 0; i < n; i++) {
                System.arraycopy(k, i * kvDim + g * hd, keys[g], (rows + i) * hd, hd);
                System.arraycopy(v, i * kvDim + g * hd, values[g], (rows + i) * hd, hd);
            }
        }
        AttentionScores scores = cache.scoreRequest(layer, n);
        backend.attention(q, n, c.heads(), c.kvHeads(), hd, keys, values, rows + n,
                (float) (1.0 / Math.sqrt(hd)), att, scores);
        cache.append(layer, kRaw, v, n);

        backend.matmul(lw.wo(), att, xb2, n);
        backend.add(x, xb2, n * c.dim());
    }

    private void feedForward(LayerWeights lw, int n) {
        backend.rmsNorm(x, lw.ffnNorm(), xb, n, c.dim(), c.rmsEps());
        backend.matmuls(new Matrix[] {lw.gate(), lw.up()}, xb, gateUp, n);
        backend.swiGlu(hb, hb2, n * c.ffnDim());
        backend.matmul(lw.down(), hb, xb2, n);
        backend.add(x, xb2, n * c.dim());
    }

    /** a[0..n) rounded to bfloat16, nearest even, as the CUDA kernels' __float2bfloat16_rn (finite values). */
    static void roundToBf16(float[] a, int n) {
        for (int i = 0; i < n; i++) {
            int x = Float.floatToRawIntBits(a[i]);
            a[i] = Float.intBitsToFloat((x + 0x7FFF + ((x >>> 16) & 1)) & 0xFFFF0000);
        }
    }

    private void addBias(float[] a, float[] bias, int n) {
        if (bias == null) return;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < bias.length; j++) a[i * bias.length + j] += bias[j];
        }
    }

    private void ensureKeyCapacity(int needRows) {
        int need = needRows * c.headDim();
        if (keys[0].length >= need) return;
        int grown = (int) Math.min(Integer.MAX_VALUE - 8, Math.max(need, keys[0].length * 3L / 2));
        for (int g = 0; g < c.kvHeads(); g++) {
            keys[g] = new float[grown];
            values[g] = new float[grown];
        }
    }
}
