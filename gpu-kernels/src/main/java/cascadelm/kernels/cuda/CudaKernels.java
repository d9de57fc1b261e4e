package cascadelm.kernels.cuda;

import cascadelm.kernels.TensorType;

/**
 * Typed launches of the kernels in {@code src/main/cuda}, over device pointers (longs) of float32 rows. All
 * work goes to the device's stream in order; nothing here waits for the device.
 */
public final class CudaKernels implements AutoCloseable {
    /** Up to this many token rows a product runs as fused matrix–vector kernels (weights read once per 4 rows, in their own encoding, float32 math); above, through cuBLAS GEMMs. */
    public static final int MATVEC_MAX_ROWS = 16;
    private static final int THREADS = 256;
    /** Warps per block of the decode products (decode.cu's DMV_WARPS). */
    private static final int DECODE_WARPS = 8;
    /** From this many rows the decode product takes two rows per warp (about four waves of blocks on 132 SMs). */
    private static final int TWO_ROWS_FROM = 8192;
    /**
     * From this many queries (and for a single one: decoding) a chunk's attention runs as cuBLAS float32 products
     * around an exact causal softmax, instead of the one-block-per-query kernel, which reads every key once per
     * query and, with few queries, keeps only a few blocks busy.
     */
    public static final int GEMM_ATTENTION_MIN_QUERIES = 32;
    /** Most float32 attention scores held at once (512 MiB): long chunks over long caches go in query blocks. */
    private static final long SCORE_BUDGET_FLOATS = 1L << 27;

    private final CudaDevice device;
    private AttentionKernel attention;
    private DeviceBuffer xHalf, wHalf, attentionScores;

    public CudaKernels(CudaDevice device) {
        this.device = device;
        this.attention = this::defaultAttention;
    }

    public CudaDevice device() {
        return device;
    }

    /** Replaces the attention kernel (e.g. by a tensor-core flash kernel with the same contract). */
    public void useAttention(AttentionKernel kernel) {
        this.attention = kernel;
    }

    private static int blocks(long n, int threads) {
        return (int) Math.min(Integer.MAX_VALUE, (n + threads - 1) / threads);
    }

    public void rmsNorm(long x, long weight, long out, int n, int dim, float eps) {
        device.launch("rmsnorm", n, 1, THREADS, 0, device.args().ptr(x).ptr(weight).ptr(out).i32(dim).f32(eps));
    }

    public void swiGlu(long gate, long up, long length) {
        device.launch("swiglu", blocks(length, THREADS), 1, THREADS, 0, device.args().ptr(gate).ptr(up).i64(length));
    }

    /** Rows of [gate | up] (2·ffn wide) into rows of silu(gate)·up (ffn wide). */
    public void swiGluFused(long gateUp, long out, int n, int ffn) {
        device.launch("swiglu_fused", blocks((long) n * ffn, THREADS), 1, THREADS, 0,
                device.args().ptr(gateUp).ptr(out).i32(n).i32(ffn));
    }

    public void add(long a, long b, long length) {
        device.launch("add", blocks(length, THREADS), 1, THREADS, 0, device.args().ptr(a).ptr(b).i64(length));
    }

    public void addBias(long x, long bias, int n, int dim) {
        device.launch("add_bias", blocks((long) n * dim, THREADS), 1, THREADS, 0,
                device.args().ptr(x).ptr(bias).i32(n).i32(dim));
    }

    public void softmax(long x, int length) {
        device.launch("softmax", 1, 1, 1024, 0, device.args().ptr(x).i32(length));
    }

    /** In place; positions is n ints on the device, freqs rotaryDims/2 floats. */
    public void rope(long x, int n, int heads, int headDim, long positions, long freqs, int pairs, boolean neox) {
        device.launch("rope", n * heads, 1, 64, 0,
                device.args().ptr(x).i32(heads).i32(headDim).ptr(positions).ptr(freqs).i32(pairs).i32(neox ? 1 : 0));
    }

    /** out[t, :] = row tokens[t] of w, decoded to float32; tokens is n ints on the device. */
    public void embed(DeviceMatrix w, long tokens, int n, long out) {
        int units = w.cols() / 8;
        device.launchOverlapping("embed_rows", blocks(units, 128), n, 128, 0, device.args().ptr(w.address()).i32(w.type().ggmlId)
                .i64(w.rowBytes()).i32(w.cols()).ptr(tokens).ptr(out));
    }

    /** The whole matrix as 16-bit floats (bf16 if asked, else f16), row-major, into {@code out}. */
    public void dequantizeToHalf(DeviceMatrix w, long out, boolean bf16) {
        long units = (long) w.rows() * (w.cols() / 8);
        device.launch("dequant_half", blocks(units, THREADS), 1, THREADS, 0, device.args().ptr(w.address())
                .i32(w.type().ggmlId).i64(w.rowBytes()).i32(w.rows()).i32(w.cols()).ptr(out).i32(bf16 ? 1 : 0));
    }

    /** {@code out[t, r] = β·out[t, r] + Σ_c w[r, c]·x[t, c]}, t < n, by the matrix–vector kernels. */
    public void matvec(DeviceMatrix w, long x, int n, long out, float beta) {
        matvec(w, x, n, out, w.rows(), beta);
    }

    /** As above, with out's rows {@code ldOut} floats apart. */
    public void matvec(DeviceMatrix w, long x, int n, long out, int ldOut, float beta) {
        String kernel = switch (w.type()) {
            case F32 -> "matvec_f32";
            case F16 -> "matvec_f16";
            case BF16 -> "matvec_bf16";
            case Q8_0 -> "matvec_q8_0";
            case Q4_0 -> "matvec_q4_0";
            case Q4_K -> "matvec_q4_k";
            case Q6_K -> "matvec_q6_k";
        };
        int warps = 8;
        device.launch(kernel, blocks(w.rows(), warps), 1, 32 * warps, 0, device.args().ptr(w.address())
                .i64(w.rowBytes()).i32(w.rows()).i32(w.cols()).ptr(x).i32(n).ptr(out).i32(ldOut).f32(beta));
    }

    /**
     * {@code out[t, r] = β·out[t, r] + Σ_c w[r, c]·x[t, c]} for t < n (β is 0 or 1: 1 adds a residual). Small n
     * runs the matrix–vector kernels (float32 activations); larger n runs a cuBLAS GEMM with float32
     * accumulation: float32 weights as they are (no TF32), float16 and bfloat16 weights as stored with the
     * activations rounded to the same type, quantised weights through their float16 copy (or dequantised into
     * scratch for this call when no copy is kept) with float16 activations.
     */
    public void linear(DeviceMatrix w, long x, int n, long out, float beta) {
        linear(w, x, n, out, w.rows(), beta);
    }

    /** As above, with out's rows {@code ldOut ≥ w.rows()} floats apart (a column slice of a fused output). */
    public void linear(DeviceMatrix w, long x, int n, long out, int ldOut, float beta) {
        if (n <= MATVEC_MAX_ROWS) {
            matvec(w, x, n, out, ldOut, beta);
            return;
        }
        if (w.type() == TensorType.F32) {
            device.cublas().linear(w.address(), x, out, w.rows(), ldOut, w.cols(), n, Cublas.R_32F, beta);
            return;
        }
        boolean bf16 = w.type() == TensorType.BF16;
        long weights;
        if (w.gemmReady()) {
            weights = w.address();
        } else if (w.half() != null) {
            weights = w.half().address();
        } else {
            wHalf = grown(wHalf, 2L * w.rows() * w.cols());
            dequantizeToHalf(w, wHalf.address(), false);
            weights = wHalf.address();
        }
        long count = (long) n * w.cols();
        xHalf = grown(xHalf, 2 * count);
        device.launch(bf16 ? "f32_to_bf16" : "f32_to_f16", blocks(count, THREADS), 1, THREADS, 0,
                device.args().ptr(x).ptr(xHalf.address()).i64(count));
        device.cublas().linear(weights, xHalf.address(), out, w.rows(), ldOut, w.cols(), n,
                bf16 ? Cublas.R_16BF : Cublas.R_16F, beta);
    }

    private DeviceBuffer grown(DeviceBuffer b, long bytes) {
        if (b != null && b.bytes() >= bytes) return b;
        if (b != null) b.close();
        return device.alloc(bytes);
    }

    /** Attention through the current {@link AttentionKernel}. */
    public void attention(long q, int nQ, int nHeads, int nKvHeads, int headDim, long keys, long values, long headStride,
                          int nKeys, float scale, long out, long scores, long byQuery, long byDistance) {
        if (nHeads % nKvHeads != 0 || nQ > nKeys || nQ <= 0) {
            throw new IllegalArgumentException("attention needs nHeads a multiple of nKvHeads and 0 < nQ <= nKeys");
        }
        if (headDim > 256) throw new IllegalArgumentException("head dimension " + headDim + " above 256 is not supported on CUDA");
        attention.run(q, nQ, nHeads, nKvHeads, headDim, keys, values, headStride, nKeys, scale, out, scores, byQuery, byDistance);
    }

    /** The default kernel: products through cuBLAS for long chunks, one block per (query, head) otherwise. */
    private void defaultAttention(long q, int nQ, int nHeads, int nKvHeads, int headDim, long keys, long values,
                                  long headStride, int nKeys, float scale, long out, long scores, long byQuery,
                                  long byDistance) {
        if (nQ >= GEMM_ATTENTION_MIN_QUERIES || nQ == 1) {
            gemmAttention(q, nQ, nHeads, nKvHeads, headDim, keys, values, headStride, nKeys, scale, out, scores, byQuery, byDistance);
        } else {
            simpleAttention(q, nQ, nHeads, nKvHeads, headDim, keys, values, headStride, nKeys, scale, out, scores, byQuery, byDistance);
        }
    }

    /**
     * S_h = scale·Q_h·K_gᵀ, exact causal softmax of each row (with the score sums), O_h = P_h·V_g, per query block.
     * cuBLAS is column-major: a row-major n × d matrix is its d × n transpose there, which is what the leading
     * dimensions below describe. Query head h = g·group + r; one strided-batched product over g per r.
     */
    private void gemmAttention(long q, int nQ, int nHeads, int nKvHeads, int hd, long keys, long values,
                               long headStride, int nKeys, float scale, long out, long scores, long byQuery,
                               long byDistance) {
        int group = nHeads / nKvHeads;
        int cached = nKeys - nQ;
        int block = (int) Math.max(1, Math.min(nQ, SCORE_BUDGET_FLOATS / ((long) nHeads * nKeys)));
        attentionScores = grown(attentionScores, 4L * nHeads * block * nKeys);
        long s = attentionScores.address();
        Cublas blas = device.cublas();
        if (nQ == 1) {
            // Decoding: a KV head's query heads are consecutive rows of q, so one batched product over the KV heads
            // covers them all (S_g is group × nKeys) and the keys are read once, spread over the whole GPU.
            blas.gemmStridedBatched(true, false, nKeys, group, hd, scale, keys, Cublas.R_32F, hd, headStride,
                    q, Cublas.R_32F, hd, (long) group * hd, 0f, s, nKeys, (long) group * nKeys, nKvHeads);
            device.launch("causal_softmax_rows", 1, nHeads, THREADS, 0, device.args().ptr(s).i32(1).i32(nKeys)
                    .i32(cached).i32(0).ptr(scores).i32(nKeys).ptr(byQuery).ptr(byDistance));
            blas.gemmStridedBatched(false, false, hd, group, nKeys, 1f, values, Cublas.R_32F, hd, headStride,
                    s, Cublas.R_32F, nKeys, (long) group * nKeys, 0f, out, hd, (long) group * hd, nKvHeads);
            return;
        }
        for (int i0 = 0; i0 < nQ; i0 += block) {
            int nb = Math.min(block, nQ - i0);
            int keysB = cached + i0 + nb;              // the most keys any query of the block sees
            long perHead = (long) nb * keysB;          // S_h is nb × keysB, row-major
            for (int r = 0; r < group; r++) {
                blas.gemmStridedBatched(true, false, keysB, nb, hd, scale,
                        keys, Cublas.R_32F, hd, headStride,
                        q + 4L * ((long) i0 * nHeads + r) * hd, Cublas.R_32F, nHeads * hd, (long) group * hd,
                        0f, s + 4L * r * perHead, keysB, group * perHead, nKvHeads);
            }
            device.launch("causal_softmax_rows", nb, nHeads, THREADS, 0, device.args().ptr(s).i32(nb).i32(keysB)
                    .i32(cached).i32(i0).ptr(scores).i32(nKeys).ptr(byQuery).ptr(byDistance));
            for (int r = 0; r < group; r++) {
                blas.gemmStridedBatched(false, false, hd, nb, keysB, 1f,
                        values, Cublas.R_32F, hd, headStride,
                        s + 4L * r * perHead, Cublas.R_32F, keysB, group * perHead,
                        0f, out + 4L * ((long) i0 * nHeads + r) * hd, nHeads * hd, (long) group * hd, nKvHeads);
            }
        }
    }

    private void simpleAttention(long q, int nQ, int nHeads, int nKvHeads, int headDim, long keys, long values,
                                 long headStride, int nKeys, float scale, long out, long scores, long byQuery, long byDistance) {
        // 32 warps (the kernel's ATT_WARPS): enough keys in flight to hide memory latency when one query's few
        // heads are all the blocks there are (decoding); shared: q and a 128-key tile.
        device.launch("attention_rows", nQ, nHeads, 1024, (headDim + 128) * Float.BYTES, device.args().ptr(q).i32(nQ)
                .i32(nHeads).i32(nKvHeads).i32(headDim).ptr(keys).ptr(values).i64(headStride).i32(nKeys).f32(scale)
                .ptr(out).ptr(scores).ptr(byQuery).ptr(byDistance));
    }

    /** Fills the rotary cos/sin table (pairs floats per position each) for positions [from, to). */
    public void ropeTable(long cos, long sin, long freqs, int pairs, int from, int to) {
        long n = (long) (to - from) * pairs;
        device.launch("rope_table", blocks(n, THREADS), 1, THREADS, 0,
                device.args().ptr(cos).ptr(sin).ptr(freqs).i32(pairs).i32(from).i32(to));
    }

    /**
     * One token's product (decoding): {@code out[r] = (accumulate ? out[r] : 0) + Σ_c w[r, c]·y[c]} where y is x,
     * or RMSNorm(x)·normWeight when {@code normWeight} is not 0 (the norm fused into the product). Q8_0 rounds y to
     * int8 blocks of 32 first and multiplies by dp4a ({@link #int8Activations}).
     */
    public void decodeMatvec(DeviceMatrix w, long x, long normWeight, float eps, long out, boolean accumulate) {
        decodeMatvec(w, x, normWeight, eps, out, accumulate, true);
    }

    /**
     * As above; {@code int8} false keeps float32 activations for Q8_0 too (the earlier kernel, for A/B timing and
     * as the reference of the int8 kernel's error bound).
     */
    public void decodeMatvec(DeviceMatrix w, long x, long normWeight, float eps, long out, boolean accumulate, boolean int8) {
        // Two rows per warp share each x load; below a few waves of blocks, one row per warp keeps more blocks busy.
        int perWarp = w.rows() >= TWO_ROWS_FROM ? 2 : 1;
        boolean q8 = int8 && int8Activations(w);
        device.launchOverlapping((perWarp == 2 ? "dmv_" : "dmv1_") + (q8 ? "q8i" : typeName(w.type())),
                blocks(w.rows(), perWarp * DECODE_WARPS), 1, 32 * DECODE_WARPS, q8 ? int8SharedBytes(w.cols()) : 0,
                device.args().ptr(w.address()).i64(w.rowBytes()).i32(w.rows()).i32(w.cols()).ptr(x).ptr(normWeight)
                        .f32(eps).ptr(out).i32(accumulate ? 1 : 0));
    }

    /**
     * One token's gate|up product and SwiGLU in one kernel: {@code w} stacks Wgate over Wup (2·ffn rows), and
     * {@code out[r] = silu(gate_r·y)·(up_r·y)} for r < ffn, y being RMSNorm(x)·normWeight (or x when 0).
     */
    public void decodeMatvecSwiGlu(DeviceMatrix w, long x, long normWeight, float eps, long out) {
        decodeMatvecSwiGlu(w, x, normWeight, eps, out, true);
    }

    /** As above; {@code int8} as in {@link #decodeMatvec(DeviceMatrix, long, long, float, long, boolean, boolean)}. */
    public void decodeMatvecSwiGlu(DeviceMatrix w, long x, long normWeight, float eps, long out, boolean int8) {
        int ffn = w.rows() / 2;
        boolean q8 = int8 && int8Activations(w);
        device.launchOverlapping("dmv_swiglu_" + (q8 ? "q8i" : typeName(w.type())), blocks(ffn, DECODE_WARPS), 1,
                32 * DECODE_WARPS, q8 ? int8SharedBytes(w.cols()) : 0,
                device.args().ptr(w.address()).i64(w.rowBytes()).i32(ffn).i32(w.cols()).ptr(x).ptr(normWeight)
                        .f32(eps).ptr(out));
    }

    /**
     * Whether the decode products of {@code w} round their input to int8 (decode.cu's dmv_q8i kernels): Q8_0
     * matrices whose rounded input (cols bytes + a float scale per 32) fits the 48 KiB of shared memory a block
     * gets without opting in.
     */
    public static boolean int8Activations(DeviceMatrix w) {
        return w.type() == TensorType.Q8_0 && int8SharedBytes(w.cols()) <= 48 * 1024;
    }

    private static int int8SharedBytes(int cols) {
        return cols + cols / 8;
    }

    /**
     * The greedy token of {@code n} logits at {@code x}: the lowest index of the largest value (NaN never wins) into
     * the int at {@code out} and, unless {@code step} is 0, into the step block's token slot (decode.cu's
     * argmax_token). {@code scratch} is 16 bytes that must be zero before the first call; the kernel leaves them zero.
     */
    public void argmaxToken(long x, int n, long scratch, long out, long step) {
        int grid = Math.clamp((n + 4L * THREADS - 1) / (4L * THREADS), 1, 1024);
        device.launchOverlapping("argmax_token", grid, 1, THREADS, 0, device.args().ptr(x).i32(n).ptr(scratch).ptr(scratch + 8)
                .ptr(out).ptr(step));
    }

    private static String typeName(TensorType t) {
        return switch (t) {
            case F32 -> "f32";
            case F16 -> "f16";
            case BF16 -> "bf16";
            case Q8_0 -> "q8_0";
            case Q4_0 -> "q4_0";
            case Q4_K -> "q4_k";
            case Q6_K -> "q6_k";
        };
    }

    @Override
    public void close() {
        if (xHalf != null) xHalf.close();
        if (wHalf != null) wHalf.close();
        if (attentionScores != null) attentionScores.close();
    }
}
