package cascadelm.model.llama;

import cascadelm.kernels.AttentionScores;
import cascadelm.kernels.Backend;
import cascadelm.kernels.Matrix;
import cascadelm.kernels.TensorType;
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
    private boolean bf16Rows, int8Decode;
    /** Scratch for an int8-rounded product input (see {@link #roundDecodeActivationsToInt8}). */
    private float[] rounded = new float[0];

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
     * With {@code on}, a one-token step without all logits (decoding) rounds the input of every Q8_0 product to int8
     * blocks of 32 ({@link #roundToInt8Blocks}), as the CUDA decode graph's dp4a kernels do: for Wq|Wk|Wv and
     * Wgate|Wup only where all the stacked matrices are Q8_0 (the device then runs one fused product). A reference for
     * the GPU tests, like {@link #roundRowsToBf16}; the device rounds the input before the RMS factor is applied
     * (the same integers but where float32 rounding of the two inputs straddles a half: a rare ±1).
     */
    public void roundDecodeActivationsToInt8(boolean on) {
        this.int8Decode = on;
    }

    /**
     * a[from, from + n) rounded to int8 in blocks of 32 (n a multiple of 32) as decode.cu's dmv_q8i kernels round
     * their input: d = amax/127, q = rint(v·(127/amax)), v ← d·q (0 for an all-zero block), float32 arithmetic.
     */
    static void roundToInt8Blocks(float[] a, int from, int n) {
        for (int b = from; b < from + n; b += 32) {
            float amax = 0f;
            for (int i = b; i < b + 32; i++) amax = Math.max(amax, Math.abs(a[i]));
            float d = amax / 127f, id = amax > 0f ? 127f / amax : 0f;
            for (int i = b; i < b + 32; i++) a[i] = d * (float) Math.rint(a[i] * id);
        }
    }

    /** Whether a decode step's product over these stacked matrices runs on int8 inputs on the device. */
    private boolean int8Product(int n, Matrix... stacked) {
        if (!int8Decode || n != 1) return false;
        for (Matrix m : stacked) {
            if (m.type() != TensorType.Q8_0 || m.cols() + m.cols() / 8 > 48 * 1024) return false;
        }
        return true;
    }

    /** x[0, cols) rounded to int8 blocks into scratch when the product runs on int8 inputs, else x itself. */
    private float[] productInput(float[] x, int cols, boolean int8) {
        if (!int8) return x;
        if (rounded.length < cols) rounded = new float[cols];
        System.arraycopy(x, 0, rounded, 0, cols);
        roundToInt8Blocks(rounded, 0, cols);
        return rounded;
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

        boolean decoding = n == 1 && allOut == null;
        for (int l = 0; l < c.layers(); l++) {
            LayerWeights lw = w.layers().get(l);
            attention(l, lw, n, decoding);
            feedForward(lw, n, decoding);
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
        backend.matmul(w.output(), productInput(last, dim, int8Product(n, w.output())), logits, 1);
        return logits;
    }

    private void attention(int layer, LayerWeights lw, int n, boolean decoding) {
        int hd = c.headDim();
        int kvDim = c.kvDim();
        backend.rmsNorm(x, lw.attentionNorm(), xb, n, c.dim(), c.rmsEps());
        float[] in = productInput(xb, c.dim(), decoding && int8Product(n, lw.wq(), lw.wk(), lw.wv()));
        backend.matmuls(new Matrix[] {lw.wq(), lw.wk(), lw.wv()}, in, qkv, n);
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

        backend.matmul(lw.wo(), productInput(att, c.qDim(), decoding && int8Product(n, lw.wo())), xb2, n);
        backend.add(x, xb2, n * c.dim());
    }

    private void feedForward(LayerWeights lw, int n, boolean decoding) {
        backend.rmsNorm(x, lw.ffnNorm(), xb, n, c.dim(), c.rmsEps());
        float[] in = productInput(xb, c.dim(), decoding && int8Product(n, lw.gate(), lw.up()));
        backend.matmuls(new Matrix[] {lw.gate(), lw.up()}, in, gateUp, n);
        backend.swiGlu(hb, hb2, n * c.ffnDim());
        backend.matmul(lw.down(), productInput(hb, c.ffnDim(), decoding && int8Product(n, lw.down())), xb2, n);
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
