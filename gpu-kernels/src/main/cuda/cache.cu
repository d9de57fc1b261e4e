// Device-resident KV cache rows. The cache policies keep their bookkeeping on the host (order, positions,
// slot choice, scores) and emit row operations; these kernels carry them out and lay rows out for attention.
#include "common.cuh"

#define OP_ROW_FROM_CHUNK 0
#define OP_CARRY_FROM_CHUNK 1
#define OP_ROW_FROM_CARRY 2
#define OP_SWAP_CARRY 3

// cos and sin of position · freq[i] for positions [from, to), pairs per position, formed in double precision
// and rounded once, exactly as the rotation would form them: a table makes re-rotating cached keys cheap.
extern "C" __global__ void rope_table(float* cosT, float* sinT, const float* freqs, int pairs, int from, int to) {
    long k = (long)blockIdx.x * blockDim.x + threadIdx.x;
    long p = from + k / pairs;
    int i = (int)(k % pairs);
    if (p >= to) return;
    double angle = (double)p * (double)freqs[i];
    cosT[p * pairs + i] = (float)cos(angle);
    sinT[p * pairs + i] = (float)sin(angle);
}

// Rotates pairs of one head row in place (as rope in elementwise.cu), one thread per pair; angles of positions
// below tablePositions come from the table.
__device__ __forceinline__ void rotate_pairs(float* x, int position, const float* freqs, int pairs, int neox,
                                             const float* cosT, const float* sinT, int tablePositions) {
    int stride = neox ? 1 : 2, partner = neox ? pairs : 1;
    for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
        float c, s;
        if (position < tablePositions) {
            c = cosT[(long)position * pairs + i];
            s = sinT[(long)position * pairs + i];
        } else {
            double angle = (double)position * (double)freqs[i];
            c = (float)cos(angle);
            s = (float)sin(angle);
        }
        int a = i * stride;
        float x0 = x[a], x1 = x[a + partner];
        x[a] = x0 * c - x1 * s;
        x[a + partner] = x0 * s + x1 * c;
    }
}

// Carries out each (layer, KV head)'s operations in order; one block each. Thread d owns dimensions d,
// d + blockDim.x, ... of every row and of the carry (kept in registers), so no synchronisation is needed.
// Ops are int4 (kind, row, token, position): the position is the one the written row holds afterwards.
extern "C" __global__ void cache_row_ops(const int4* ops, const int* opStart, float* storeK, float* storeV,
                                         int* storePos, const float* chunkK, const float* chunkV, long chunkLayerStride,
                                         int kvHeads, int headDim, int capacity) {
    int lh = blockIdx.x, layer = lh / kvHeads, g = lh % kvHeads;
    float* sk = storeK + (long)lh * capacity * headDim;
    float* sv = storeV + (long)lh * capacity * headDim;
    int* sp = storePos + (long)lh * capacity;
    int kvDim = kvHeads * headDim;
    const float* ck = chunkK + layer * chunkLayerStride + g * headDim;
    const float* cv = chunkV + layer * chunkLayerStride + g * headDim;
    float carryK[4], carryV[4];   // head dims up to 4 × blockDim.x
    for (int o = opStart[lh]; o < opStart[lh + 1]; o++) {
        int4 op = ops[o];
        for (int c = 0, d = threadIdx.x; d < headDim; c++, d += blockDim.x) {
            long row = (long)op.y * headDim + d;
            long tok = (long)op.z * kvDim + d;
            switch (op.x) {
                case OP_ROW_FROM_CHUNK: sk[row] = ck[tok]; sv[row] = cv[tok]; break;
                case OP_CARRY_FROM_CHUNK: carryK[c] = ck[tok]; carryV[c] = cv[tok]; break;
                case OP_ROW_FROM_CARRY: sk[row] = carryK[c]; sv[row] = carryV[c]; break;
                case OP_SWAP_CARRY: {
                    float k = sk[row], v = sv[row];
                    sk[row] = carryK[c]; sv[row] = carryV[c];
                    carryK[c] = k; carryV[c] = v;
                    break;
                }
            }
        }
        if (threadIdx.x == 0 && op.x != OP_CARRY_FROM_CHUNK) sp[op.y] = op.w;
    }
}

// Lays out the cached rows of one layer in attention order, keys rotated: K[g][i] = rope(store[g][order[i]]) at
// position storePos (originalPositions) or i. One block per (row i, KV head g).
extern "C" __global__ void cache_gather(const float* storeK, const float* storeV, const int* storePos,
                                        const int* order, int capacity, int headDim, int originalPositions,
                                        const float* freqs, int pairs, int neox, float* K, float* V, long headStride,
                                        const float* cosT, const float* sinT, int tablePositions) {
    int i = blockIdx.x, g = blockIdx.y;
    int row = order[i];
    const float* sk = storeK + ((long)g * capacity + row) * headDim;
    const float* sv = storeV + ((long)g * capacity + row) * headDim;
    float* k = K + g * headStride + (long)i * headDim;
    float* v = V + g * headStride + (long)i * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        k[d] = sk[d];
        v[d] = sv[d];
    }
    __syncthreads();
    int position = originalPositions ? storePos[(long)g * capacity + row] : i;
    rotate_pairs(k, position, freqs, pairs, neox, cosT, sinT, tablePositions);
}

// Splits the fused q|k|v rows of a chunk (n × (qDim + 2·kvDim)), rotates q and k at positions first + t, and
// writes: q (n × qDim), the rotated k and v after the cached rows in the attention layout (row `rows` + t of
// each KV head), and the un-rotated k and v (n × kvDim) that the cache stores. One block per (token, head slot).
extern "C" __global__ void split_qkv(const float* qkv, int heads, int kvHeads, int headDim, int first,
                                     const float* freqs, int pairs, int neox, float* q, float* K, float* V,
                                     long headStride, int rows, float* kRaw, float* vRaw, const float* cosT,
                                     const float* sinT, int tablePositions) {
    int t = blockIdx.x, slot = blockIdx.y;     // slot < heads: query head; then KV heads
    int qDim = heads * headDim, kvDim = kvHeads * headDim;
    const float* src = qkv + (long)t * (qDim + 2 * kvDim);
    if (slot < heads) {
        float* dst = q + (long)t * qDim + slot * headDim;
        for (int d = threadIdx.x; d < headDim; d += blockDim.x) dst[d] = src[slot * headDim + d];
        __syncthreads();
        rotate_pairs(dst, first + t, freqs, pairs, neox, cosT, sinT, tablePositions);
        return;
    }
    int g = slot - heads;
    const float* ks = src + qDim + g * headDim;
    const float* vs = src + qDim + kvDim + g * headDim;
    float* k = K + g * headStride + (long)(rows + t) * headDim;
    float* v = V + g * headStride + (long)(rows + t) * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        k[d] = ks[d];
        v[d] = vs[d];
        kRaw[(long)t * kvDim + g * headDim + d] = ks[d];
        vRaw[(long)t * kvDim + g * headDim + d] = vs[d];
    }
    __syncthreads();
    rotate_pairs(k, first + t, freqs, pairs, neox, cosT, sinT, tablePositions);
}
