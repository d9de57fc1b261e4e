package cascadelm.kernels.cuda;

import java.nio.file.Path;

/**
 * The tensor-core flash attention and score-sum kernels of {@code flash_attention.cu} and
 * {@code flash_attention_sm90.cu} (their launch contracts are the reference): attention of nQ queries over nKeys
 * keys per KV head (the cached rows, then the chunk's own keys, causal inside the chunk), bf16 inputs, f32
 * accumulation, and the cascade-spec §4 score sums from a second pass (exact, or estimated from every k-th query).
 * Tensors are given as device addresses with element strides (token, head), all multiples of 8.
 *
 * <p>The kernel is picked by the device: on compute capability 9.0 (H100, H200), head dimension 128 runs the
 * Hopper kernel (wgmma, module {@code flash_attention_sm90}, PTX for sm_90a) when that module is found; everything
 * else runs the portable mma.sync kernel (compute 8.0 PTX).
 */
public final class FlashAttention implements AutoCloseable {
    /** Kernel versions: rows per block, threads per block (see bench/results/gpu-kernel-notes.md). */
    private static final int FLASH_ROWS = 128, FLASH_THREADS = 128, SCORE_KEYS = 256, SCORE_THREADS = 256;
    private static final int HOPPER_THREADS = 256, HOPPER_SMEM = 1024 + (128 + 6 * 128) * 128 * 2;
    private static final int HOPPER_SCORE_KEYS = 128, HOPPER_SCORE_SMEM = 1024 + 128 * 256 + 4 * (128 * 256 + 1024);
    private final KernelModule module;
    private final KernelModule hopper;   // null: the portable kernel only

    /** Picks the kernels by the device (the Hopper kernel where it runs and its module is found). */
    public FlashAttention(CudaDevice device, Path kernelDir) {
        this(device, kernelDir, true);
    }

    /** {@code allowHopper} false keeps the portable mma.sync kernel everywhere (for comparisons). */
    public FlashAttention(CudaDevice device, Path kernelDir, boolean allowHopper) {
        this.module = KernelModule.load(device, "flash_attention", kernelDir);
        this.hopper = allowHopper && device.computeCapability() == 90 ? loadHopper(device, kernelDir) : null;
    }

    /** The sm_90a module, or null where it was not built (then the portable kernel does it all). */
    private static KernelModule loadHopper(CudaDevice device, Path kernelDir) {
        try {
            return KernelModule.load(device, "flash_attention_sm90", kernelDir);
        } catch (CudaUnavailableException e) {
            return null;
        }
    }

    /** "wgmma (sm_90a)" or "mma.sync (compute 8.0)": the attention and score kernels head dimension 128 runs on. */
    public String kernel() {
        return hopper != null ? "wgmma (sm_90a)" : "mma.sync (compute 8.0)";
    }

    public CudaDevice device() {
        return module.device();
    }

    /** A [heads][rows][headDim] bf16 (or f32 for outputs) tensor at {@code address} with element strides. */
    public record Tensor(long address, long tokenStride, long headStride) {
        public static Tensor packed(long address, int rows, int headDim) {
            return new Tensor(address, headDim, (long) rows * headDim);
        }
    }

    /**
     * out (bf16, or f32 with {@code f32Out}) = softmax(q·kᵀ·scale) v; lse (f32 [H][nQ], may be 0) receives each
     * row's log2-sum-exp in the scaled log2 domain, which {@link #scoreSums} needs.
     */
    public void attention(Tensor q, Tensor k, Tensor v, Tensor out, boolean f32Out, long lse, int nQ, int nKeys,
                          int heads, int kvHeads, int headDim, float scale) {
        check(nQ, nKeys, heads, kvHeads, headDim);
        KernelArgs a = device().args().ptr(q.address()).ptr(k.address()).ptr(v.address()).ptr(out.address()).ptr(lse)
                .i32(nQ).i32(nKeys).i32(heads).i32(kvHeads)
                .i64(q.tokenStride()).i64(q.headStride()).i64(k.tokenStride()).i64(k.headStride())
                .i64(v.tokenStride()).i64(v.headStride()).i64(out.tokenStride()).i64(out.headStride())
                .f32((float) (scale / Math.log(2)));
        String suffix = f32Out ? "_f32" : "_bf16";
        if (hopper != null && headDim == 128) {
            hopper.launch("flash_attn3_hd128" + suffix, (nQ + FLASH_ROWS - 1) / FLASH_ROWS, heads, HOPPER_THREADS,
                    HOPPER_SMEM, a);
        } else {
            int smem = (FLASH_ROWS + 4 * 64) * headDim * 2;
            module.launch("flash_attn2_hd" + headDim + suffix, (nQ + FLASH_ROWS - 1) / FLASH_ROWS, heads, FLASH_THREADS,
                    smem, a);
        }
    }

    /**
     * out (f32 [kvHeads][nKeys]) = the §4 score sums of every key, reduced over each group's query heads (max, or
     * mean with {@code mean}); {@code beta} = 0 gives plain column sums of the probabilities.
     */
    public void scoreSums(Tensor q, Tensor k, long lse, long out, int nQ, int nKeys, int heads, int kvHeads,
                          int headDim, float scale, double beta, boolean mean) {
        scoreSums(q, k, lse, out, nQ, nKeys, heads, kvHeads, headDim, scale, beta, mean, 1, 0, 0);
    }

    /**
     * {@link #scoreSums} with two savings: {@code queryStep} k > 1 estimates the sums of blocks of cached keys from
     * every k-th query (the last one included, times k; blocks holding chunk keys stay exact), and the keys in
     * [{@code skipFrom}, {@code skipTo}) get 0 without being computed (for sums nobody reads).
     */
    public void scoreSums(Tensor q, Tensor k, long lse, long out, int nQ, int nKeys, int heads, int kvHeads,
                          int headDim, float scale, double beta, boolean mean, int queryStep, int skipFrom, int skipTo) {
        check(nQ, nKeys, heads, kvHeads, headDim);
        if (queryStep < 1) throw new IllegalArgumentException("score query step " + queryStep + ": must be >= 1");
        if (skipFrom < 0 || skipTo < skipFrom || skipTo > nKeys) {
            throw new IllegalArgumentException("skipped keys [" + skipFrom + ", " + skipTo + ") must lie in [0, " + nKeys + "]");
        }
        if (hopper != null && headDim == 128) {
            KernelArgs a = device().args().ptr(q.address()).ptr(k.address()).ptr(lse).ptr(out)
                    .i32(nQ).i32(nKeys).i32(heads).i32(kvHeads)
                    .i64(q.tokenStride()).i64(q.headStride()).i64(k.tokenStride()).i64(k.headStride())
                    .f32((float) (scale / Math.log(2))).f32((float) log2Beta(beta)).f32(oneMinusBeta(beta))
                    .i32(mean ? 1 : 0).i32(queryStep).i32(skipFrom).i32(skipTo);
            hopper.launch("attn_colsum4_hd128", (nKeys + HOPPER_SCORE_KEYS - 1) / HOPPER_SCORE_KEYS, kvHeads,
                    HOPPER_THREADS, HOPPER_SCORE_SMEM, a);
            return;
        }
        boolean plain = queryStep == 1 && skipTo == skipFrom;
        KernelArgs a = device().args().ptr(q.address()).ptr(k.address()).ptr(lse).ptr(out)
                .i32(nQ).i32(nKeys).i32(heads).i32(kvHeads)
                .i64(q.tokenStride()).i64(q.headStride()).i64(k.tokenStride()).i64(k.headStride())
                .f32((float) (scale / Math.log(2))).f32((float) log2Beta(beta)).f32(oneMinusBeta(beta)).i32(mean ? 1 : 0);
        if (!plain) a.i32(queryStep).i32(skipFrom).i32(skipTo);
        int smem = 2 * 64 * headDim * 2 + 2 * 2 * 64 * 4;
        module.launch((plain ? "attn_colsum2_hd" : "attn_colsum3_hd") + headDim, (nKeys + SCORE_KEYS - 1) / SCORE_KEYS,
                kvHeads, SCORE_THREADS, smem, a);
    }

    private static double log2Beta(double beta) {
        return beta == 0 ? 0 : Math.log(beta) / Math.log(2);
    }

    private static float oneMinusBeta(double beta) {
        return beta == 0 ? 1f : (float) (1 - beta);
    }

    private static void check(int nQ, int nKeys, int heads, int kvHeads, int headDim) {
        if (nQ < 1 || nQ > nKeys) {
            throw new IllegalArgumentException("attention needs 1 <= queries (" + nQ + ") <= keys (" + nKeys + ")");
        }
        if (kvHeads < 1 || heads % kvHeads != 0) {
            throw new IllegalArgumentException(heads + " query heads do not split into " + kvHeads + " KV heads");
        }
        if (headDim != 64 && headDim != 128) {
            throw new IllegalArgumentException("head dimension " + headDim + ": the flash kernels are built for 64 and 128");
        }
    }

    @Override
    public void close() {
        module.close();
        if (hopper != null) hopper.close();
    }
}
