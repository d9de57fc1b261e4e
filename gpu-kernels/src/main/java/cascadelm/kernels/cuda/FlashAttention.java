package cascadelm.kernels.cuda;

import java.nio.file.Path;

/**
 * The tensor-core flash attention and score-sum kernels of {@code flash_attention.cu} (its launch contract is the
 * reference): attention of nQ queries over nKeys keys per KV head (the cached rows, then the chunk's own keys,
 * causal inside the chunk), bf16 inputs, f32 accumulation, and the exact cascade-spec §4 score sums from a second
 * pass. Tensors are given as device addresses with element strides (token, head), all multiples of 8.
 */
public final class FlashAttention implements AutoCloseable {
    /** Kernel version: rows per block, threads per block (see bench/results/gpu-kernel-notes.md). */
    private static final int FLASH_ROWS = 128, FLASH_THREADS = 128, SCORE_KEYS = 256, SCORE_THREADS = 256;
    private final KernelModule module;

    public FlashAttention(CudaDevice device, Path kernelDir) {
        this.module = KernelModule.load(device, "flash_attention", kernelDir);
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
        int smem = (FLASH_ROWS + 4 * 64) * headDim * 2;
        module.launch("flash_attn2_hd" + headDim + (f32Out ? "_f32" : "_bf16"), (nQ + FLASH_ROWS - 1) / FLASH_ROWS,
                heads, FLASH_THREADS, smem, a);
    }

    /**
     * out (f32 [kvHeads][nKeys]) = the §4 score sums of every key, reduced over each group's query heads (max, or
     * mean with {@code mean}); {@code beta} = 0 gives plain column sums of the probabilities.
     */
    public void scoreSums(Tensor q, Tensor k, long lse, long out, int nQ, int nKeys, int heads, int kvHeads,
                          int headDim, float scale, double beta, boolean mean) {
        check(nQ, nKeys, heads, kvHeads, headDim);
        double log2Beta = beta == 0 ? 0 : Math.log(beta) / Math.log(2);
        float oneMinusBeta = beta == 0 ? 1f : (float) (1 - beta);
        KernelArgs a = device().args().ptr(q.address()).ptr(k.address()).ptr(lse).ptr(out)
                .i32(nQ).i32(nKeys).i32(heads).i32(kvHeads)
                .i64(q.tokenStride()).i64(q.headStride()).i64(k.tokenStride()).i64(k.headStride())
                .f32((float) (scale / Math.log(2))).f32((float) log2Beta).f32(oneMinusBeta).i32(mean ? 1 : 0);
        int smem = 2 * 64 * headDim * 2 + 2 * 2 * 64 * 4;
        module.launch("attn_colsum2_hd" + headDim, (nKeys + SCORE_KEYS - 1) / SCORE_KEYS, kvHeads, SCORE_THREADS, smem, a);
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
    }
}
