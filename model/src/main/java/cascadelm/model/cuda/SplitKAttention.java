package cascadelm.model.cuda;

import cascadelm.kernels.cuda.CudaDevice;

/**
 * Attention of a chunk's queries over the rows a {@link DeviceKvCache} holds plus the chunk's own, by the split-K
 * kernels of decode.cu: each block takes a slice of one query's visible keys for the query heads of one KV head
 * (keys rotated as they are read), a second kernel merges the slices; with scores, a third forms the exact §4
 * score sums from the raw scores and each row's normaliser. Everything per-token is read from the cache's step
 * block, so these launches can be captured in the decode graph.
 *
 * @param rope   rotary inverse frequencies (headDim/2 floats) and the cos/sin table of the first tablePositions
 * @param splits key slices per query; raw holds heads × queries × rawStride floats, partial
 *               kvHeads × queries × splits × group × (headDim + 2)
 */
record SplitKAttention(int heads, int kvHeads, int headDim, boolean neox, long freqs, long cos, long sin,
                       int tablePositions, int splits, long raw, long rawStride, long partial, long stats) {

    /**
     * The split-K kernel instantiated for this shape (decode.cu's attn_kv_partial_g*_p*): query heads per KV head
     * rounded up to 1, 2, 4 or 8, rotary pairs per lane (headDim/2 over 32 lanes) rounded up to 1, 2 or 4.
     */
    static String partialKernel(int group, int headDim) {
        int[] i = instance(group, headDim);
        return "attn_kv_partial_g" + i[0] + "_p" + i[1];
    }

    /** The one-kernel decode attention for this shape (decode.cu's attn_decode_g*_p*), instances as {@link #partialKernel}. */
    static String decodeKernel(int group, int headDim) {
        int[] i = instance(group, headDim);
        return "attn_decode_g" + i[0] + "_p" + i[1];
    }

    /** Threads per block of {@link #decodeKernel}: 8 warps, or 4 where heads per group × pairs per lane pass 8. */
    static int decodeThreads(int group, int headDim) {
        int[] i = instance(group, headDim);
        return i[0] * i[1] > 8 ? 128 : 256;
    }

    /** {heads per group rounded up to 1, 2, 4 or 8; rotary pairs per lane rounded up to 1, 2 or 4}. */
    private static int[] instance(int group, int headDim) {
        if (group < 1 || group > 8 || headDim < 2 || headDim > 256) {
            throw new IllegalArgumentException("split-K attention takes 1..8 query heads per KV head and head"
                    + " dimensions up to 256, got " + group + " and " + headDim);
        }
        int g = Integer.highestOneBit(group) == group ? group : Integer.highestOneBit(group) << 1;
        int lanes = (headDim / 2 + 31) / 32;
        int p = lanes <= 1 ? 1 : lanes <= 2 ? 2 : 4;
        return new int[]{g, p};
    }

    /**
     * Decoding's attention in one launch (decode.cu's attn_decode): the token's query heads and its own key and value
     * straight from the QKV product's row {@code qkv} (bias {@code bias} added unless 0; the q/k/v split folded in),
     * over the cache's rows of {@code layer} plus that token; writes the token's bf16 key and value rows to kNew,
     * vNew ([g][D], for the cache update) and out [h][D] f32. With {@code sums} (not 0), also the score sums as
     * {@link #run}, weights byQuery (cached keys) and byDistance (the token). {@code partial} holds kvHeads × splits ×
     * group × (headDim + 2) floats, {@code counters} kvHeads ints that are zero (the kernel leaves them zero).
     */
    void decode(CudaDevice d, DeviceKvCache cache, int layer, long qkv, long bias, long kNew, long vNew, long out,
                float scale, long counters, long sums, long byQuery, long byDistance) {
        if (cache.cascades > 32) throw new IllegalArgumentException("decode attention takes at most 32 cascades");
        if (splits > 128) throw new IllegalArgumentException("decode attention takes at most 128 splits, got " + splits);
        boolean scored = sums != 0;
        int group = heads / kvHeads;
        d.launchOverlapping(decodeKernel(group, headDim), splits, kvHeads, decodeThreads(group, headDim), 0, d.args().ptr(qkv)
                .ptr(bias).i32(heads).i32(kvHeads).i32(headDim).ptr(cache.keys(layer)).ptr(cache.values(layer))
                .ptr(cache.positionsAddress(layer)).ptr(cache.ring(layer)).i32(cache.sinks).i32(cache.cascades)
                .i32(cache.width()).ptr(kNew).ptr(vNew).ptr(cache.step()).i32(cache.originalPositions ? 1 : 0)
                .ptr(freqs).i32(neox ? 1 : 0).ptr(cos).ptr(sin).i32(tablePositions).f32(scale).i32(splits)
                .ptr(scored ? raw : 0).i64(rawStride).ptr(partial).ptr(counters).ptr(out).ptr(scored ? stats : 0));
        if (scored) {
            d.launchOverlapping("attn_kv_score_sums", (int) ((rawStride + 127) / 128), kvHeads, 128, 0, d.args().ptr(raw)
                    .i64(rawStride).ptr(stats).i32(heads).i32(kvHeads).i32(1).ptr(cache.step()).ptr(byQuery)
                    .ptr(byDistance).i32(cache.meanReduction ? 1 : 0).i32(layer).ptr(sums));
        }
    }

    /**
     * out [i][h][D] f32 = attention of queries q ([i][h][D] f32, rotated) over the cache's rows of {@code layer} and
     * the chunk's keys/values kNew, vNew ([g][n][D] bf16, un-rotated). With {@code sums} (not 0), also the score
     * sums [layer][g][rows + n] with weights byQuery, byDistance (n floats each), reduced by max or mean.
     */
    void run(CudaDevice d, DeviceKvCache cache, int layer, int n, long q, long kNew, long vNew, long out, float scale,
             long sums, long byQuery, long byDistance) {
        boolean scored = sums != 0;
        d.launch3(partialKernel(heads / kvHeads, headDim), splits, kvHeads, n, 128, 0, d.args().ptr(q).i32(heads)
                .i32(kvHeads).i32(headDim).i32(n).ptr(cache.keys(layer)).ptr(cache.values(layer))
                .ptr(cache.positionsAddress(layer)).ptr(cache.ring(layer)).i32(cache.sinks).i32(cache.cascades)
                .i32(cache.width()).ptr(kNew).ptr(vNew).ptr(cache.step()).i32(cache.originalPositions ? 1 : 0)
                .ptr(freqs).i32(neox ? 1 : 0).ptr(cos).ptr(sin).i32(tablePositions).f32(scale).i32(splits)
                .ptr(scored ? raw : 0).i64(rawStride).ptr(partial));
        d.launch("attn_kv_combine", kvHeads, n, 128, 0, d.args().ptr(partial).i32(heads).i32(kvHeads).i32(headDim).i32(n)
                .i32(splits).ptr(out).ptr(scored ? stats : 0));
        if (scored) {
            d.launch("attn_kv_score_sums", (int) ((rawStride + 127) / 128), kvHeads, 128, 0, d.args().ptr(raw)
                    .i64(rawStride).ptr(stats).i32(heads).i32(kvHeads).i32(n).ptr(cache.step()).ptr(byQuery)
                    .ptr(byDistance).i32(cache.meanReduction ? 1 : 0).i32(layer).ptr(sums));
        }
    }
}
