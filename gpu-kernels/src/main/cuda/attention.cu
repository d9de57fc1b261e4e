// A simple, exact attention kernel: one block per (query, query head), float32 throughout. Keys and values
// are contiguous per KV head (headStride floats apart), rotated already; the chunk's own keys are the last nQ.
// Query i sees keys [0, nKeys − nQ + i]. The optional score sums are cascade-spec §4 (AttentionScores):
// scores[h·nKeys + j] += w(i, j)·P[h, i, j]. Each warp takes one key at a time (lanes split the head
// dimension, so loads are coalesced); two passes: the softmax max and sum, then exact probabilities tile by
// tile with the weighted values. The attn helper's tensor-core flash kernel replaces this one for long chunks.
#include "common.cuh"

#define ATT_WARPS 32
#define ATT_TILE 128

__device__ __forceinline__ float key_dot(const float* qs, const float* kj, int headDim, int lane) {
    float dot = 0.f;
    for (int d = lane; d < headDim; d += 32) dot += qs[d] * kj[d];
    return warp_sum(dot);
}

extern "C" __global__ void attention_rows(const float* q, int nQ, int nHeads, int nKvHeads, int headDim,
                                          const float* K, const float* V, long headStride, int nKeys, float scale,
                                          float* out, float* scores, const float* byQuery, const float* byDistance) {
    extern __shared__ float sh[];
    float* qs = sh;                     // headDim
    float* p = sh + headDim;            // ATT_TILE probabilities of the current tile
    __shared__ float warpMax[ATT_WARPS], warpSum[ATT_WARPS];
    int i = blockIdx.x, h = blockIdx.y, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    int g = h / (nHeads / nKvHeads);
    const float* k = K + g * headStride;
    const float* v = V + g * headStride;
    for (int d = tid; d < headDim; d += blockDim.x) qs[d] = q[((long)i * nHeads + h) * headDim + d];
    __syncthreads();
    int cached = nKeys - nQ;
    int visible = cached + i + 1;

    // Pass 1: each warp's running max and sum of exponentials, then combined over the block.
    float m = -INFINITY, s = 0.f;
    for (int j = warp; j < visible; j += ATT_WARPS) {
        float x = key_dot(qs, k + (long)j * headDim, headDim, lane) * scale;
        if (x > m) {
            s = s * expf(m - x) + 1.f;
            m = x;
        } else {
            s += expf(x - m);
        }
    }
    if (lane == 0) {
        warpMax[warp] = m;
        warpSum[warp] = s;
    }
    __syncthreads();
    float mAll = -INFINITY;
    for (int w = 0; w < ATT_WARPS; w++) mAll = fmaxf(mAll, warpMax[w]);
    float total = 0.f;
    for (int w = 0; w < ATT_WARPS; w++) {
        if (warpMax[w] != -INFINITY) total += warpSum[w] * expf(warpMax[w] - mAll);
    }
    float inv = 1.f / total;

    // Pass 2: exact probabilities tile by tile, the score sums, and the weighted values.
    float acc = 0.f;   // dimension tid (blockDim.x ≥ headDim)
    for (int j0 = 0; j0 < visible; j0 += ATT_TILE) {
        int tile = min(ATT_TILE, visible - j0);
        for (int jj = warp; jj < tile; jj += ATT_WARPS) {
            int j = j0 + jj;
            float pj = expf(key_dot(qs, k + (long)j * headDim, headDim, lane) * scale - mAll) * inv;
            if (lane == 0) {
                p[jj] = pj;
                if (scores != nullptr) {
                    float w = j < cached ? byQuery[i] : byDistance[i - (j - cached)];
                    atomicAdd(scores + (long)h * nKeys + j, w * pj);
                }
            }
        }
        __syncthreads();
        if (tid < headDim) {
            const float* vj = v + (long)j0 * headDim + tid;
            for (int jj = 0; jj < tile; jj++) acc += p[jj] * vj[(long)jj * headDim];
        }
        __syncthreads();
    }
    if (tid < headDim) out[((long)i * nHeads + h) * headDim + tid] = acc;
}

// Rows of scaled scores S (from cuBLAS: row (h, i) of nKeys floats for query i0 + i of a query block) turned
// into exact causal probabilities in place (keys past cached + i0 + i get 0), adding the cascade score sums.
// One block per (row i, head h); scores laid out [h][i][j] with rowsPerHead rows per head.
extern "C" __global__ void causal_softmax_rows(float* S, int rowsPerHead, int nKeys, int cached, int i0,
                                               float* scores, int scoreKeys, const float* byQuery,
                                               const float* byDistance) {
    __shared__ float scratch[32];
    int i = blockIdx.x, h = blockIdx.y;
    float* row = S + ((long)h * rowsPerHead + i) * nKeys;
    int query = i0 + i;
    int visible = cached + query + 1;
    float m = -INFINITY;
    for (int j = threadIdx.x; j < visible; j += blockDim.x) m = fmaxf(m, row[j]);
    m = block_max(m, scratch);
    float s = 0.f;
    for (int j = threadIdx.x; j < visible; j += blockDim.x) s += expf(row[j] - m);
    s = block_sum(s, scratch);
    float inv = 1.f / s;
    for (int j = threadIdx.x; j < nKeys; j += blockDim.x) {
        float pj = j < visible ? expf(row[j] - m) * inv : 0.f;
        row[j] = pj;
        if (scores != nullptr && j < visible) {
            float w = j < cached ? byQuery[query] : byDistance[query - (j - cached)];
            atomicAdd(scores + (long)h * scoreKeys + j, w * pj);
        }
    }
}
