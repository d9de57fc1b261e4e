// A simple, exact attention kernel: one block per (query, query head), float32 throughout. Keys and values
// are contiguous per KV head (headStride floats apart), rotated already; the chunk's own keys are the last nQ.
// Query i sees keys [0, nKeys − nQ + i]. The optional score sums are cascade-spec §4 (AttentionScores):
// scores[h·nKeys + j] += w(i, j)·P[h, i, j]. The attn helper's tensor-core kernel replaces this one.
#include "common.cuh"

#define ATT_THREADS 128

extern "C" __global__ void attention_rows(const float* q, int nQ, int nHeads, int nKvHeads, int headDim,
                                          const float* K, const float* V, long headStride, int nKeys, float scale,
                                          float* out, float* scores, const float* byQuery, const float* byDistance) {
    extern __shared__ float sh[];
    float* qs = sh;                     // headDim
    float* p = sh + headDim;            // ATT_THREADS probabilities of the current tile
    __shared__ float scratch[32];
    int i = blockIdx.x, h = blockIdx.y, tid = threadIdx.x;
    int g = h / (nHeads / nKvHeads);
    const float* k = K + g * headStride;
    const float* v = V + g * headStride;
    for (int d = tid; d < headDim; d += blockDim.x) qs[d] = q[((long)i * nHeads + h) * headDim + d];
    __syncthreads();
    int cached = nKeys - nQ;
    int visible = cached + i + 1;

    // Pass 1: each thread's running max and sum of exponentials, then combined over the block.
    float m = -INFINITY, s = 0.f;
    for (int j = tid; j < visible; j += blockDim.x) {
        const float* kj = k + (long)j * headDim;
        float dot = 0.f;
        for (int d = 0; d < headDim; d++) dot += qs[d] * kj[d];
        dot *= scale;
        if (dot > m) {
            s = s * expf(m - dot) + 1.f;
            m = dot;
        } else {
            s += expf(dot - m);
        }
    }
    float mAll = block_max(m, scratch);
    s = m == -INFINITY ? 0.f : s * expf(m - mAll);
    float inv = 1.f / block_sum(s, scratch);

    // Pass 2: exact probabilities tile by tile, weighted values, and the score sums.
    float acc0 = 0.f, acc1 = 0.f;   // dimensions tid and tid + blockDim.x (head dims up to 256)
    for (int j0 = 0; j0 < visible; j0 += blockDim.x) {
        int j = j0 + tid;
        float pj = 0.f;
        if (j < visible) {
            const float* kj = k + (long)j * headDim;
            float dot = 0.f;
            for (int d = 0; d < headDim; d++) dot += qs[d] * kj[d];
            pj = expf(dot * scale - mAll) * inv;
            if (scores != nullptr) {
                float w = j < cached ? byQuery[i] : byDistance[i - (j - cached)];
                atomicAdd(scores + (long)h * nKeys + j, w * pj);
            }
        }
        __syncthreads();
        p[tid] = pj;
        __syncthreads();
        int tile = min((int)blockDim.x, visible - j0);
        for (int jj = 0; jj < tile; jj++) {
            const float* vj = v + (long)(j0 + jj) * headDim;
            if (tid < headDim) acc0 += p[jj] * vj[tid];
            if (tid + blockDim.x < headDim) acc1 += p[jj] * vj[tid + blockDim.x];
        }
    }
    float* o = out + ((long)i * nHeads + h) * headDim;
    if (tid < headDim) o[tid] = acc0;
    if (tid + blockDim.x < headDim) o[tid + blockDim.x] = acc1;
}
