package cascadelm.kernels.cuda;

/**
 * Attention of a chunk of queries over contiguous per-KV-head keys and values on the device: the one call the
 * forward pass makes, so kernels can be swapped (the simple exact kernel now, a tensor-core flash kernel later).
 * Same contract as {@code Backend.attention}: query i of the chunk sees keys {@code [0, nKeys − nQ + i]}; query
 * head h reads KV head {@code h / (nHeads / nKvHeads)}.
 */
public interface AttentionKernel {

    /**
     * @param q          nQ × nHeads × headDim float32, rotated
     * @param keys       KV head g's keys at {@code keys + g·headStride·4} bytes: nKeys × headDim float32, rotated
     * @param values     likewise for values
     * @param headStride floats from one KV head's rows to the next's
     * @param out        nQ × nHeads × headDim float32
     * @param scores     0, or nHeads × nKeys float32 to which the weighted probability sums are added
     *                   ({@code AttentionScores}); then byQuery and byDistance hold nQ float32 weights each
     */
    void run(long q, int nQ, int nHeads, int nKvHeads, int headDim, long keys, long values, long headStride, int nKeys,
             float scale, long out, long scores, long byQuery, long byDistance);
}
