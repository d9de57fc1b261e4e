// Flash attention of one chunk of queries over the cached keys plus the chunk's own keys, and the exact
// attention-score column sums the cascading cache needs (cascade-spec.md §3, §4). Tensor cores through
// mma.sync.m16n8k16 (bf16 in, f32 accumulate), ldmatrix, cp.async double buffering: the portable
// sm_80+ path (runs on Ampere, Ada and Hopper).
//
// ---------------------------------------------------------------------------------------------------
// Launch contract (all pointers device pointers; all strides in elements; every stride a multiple of 8
// and every base pointer 16-byte aligned, because rows are moved in 16-byte pieces)
//
// Keys of one KV head are [cached rows 0 .. nKeys-nQ-1 | the chunk's nQ keys], so query i of the chunk
// (0-based) sees keys 0 .. nKeys-nQ+i (the cached rows unmasked, causal inside the chunk). GQA: query
// head h reads KV head h / (H / G). Requires 1 <= nQ <= nKeys.
//
// flash_attn2_hd{64,128}_{bf16,f32}(q, k, v, o, lse, nQ, nKeys, H, G,
//                                   qTok, qHead, kTok, kHead, vTok, vHead, oTok, oHead, scaleLog2)
//   q   bf16  element (h, i, d) at q[h*qHead + i*qTok + d]            (i < nQ)
//   k,v bf16  element (g, j, d) at k[g*kHead + j*kTok + d]            (j < nKeys)
//   o   bf16 or f32 (the kernel's suffix), element (h, i, d) at o[h*oHead + i*oTok + d]
//   lse f32 [H][nQ] (may be null): log2 of the softmax normaliser of row (h, i) in the scaled log2
//       domain, i.e. max_j s2_ij + log2 Σ_j 2^(s2_ij - max), with s2 = (q·k) * scaleLog2.
//       The probabilities are then A_ij = 2^(s2_ij - lse_ij).
//   scaleLog2 = softmax scale * log2(e) (scale usually 1/sqrt(head dim)).
//   grid (ceil(nQ / 128), H), block 128 (4 warps, 32 query rows each),
//   dynamic shared memory FLASH_SMEM(hd) = (128 + 4*64) * hd * 2 bytes (above 48 KB: the caller raises
//   the function's CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES first).
//
// attn_colsum2_hd{64,128}(q, k, lse, out, nQ, nKeys, H, G, qTok, qHead, kTok, kHead,
//                        scaleLog2, log2Beta, oneMinusBeta, meanReduce)
//   The score sums of §4 for every key j of every KV head g, from the same q, k and the lse above:
//     cached key j (j < nC = nKeys - nQ): r_h = Σ_i (1-β) β^(nQ-1-i) A[h,i,j]
//     chunk key j (j' = j - nC):          r_h = Σ_{i >= j'} (1-β) β^(i-j') A[h,i,j]
//   reduced over the query heads h of group g: max (meanReduce = 0) or mean (meanReduce = 1), written
//   to out[g*nKeys + j] (f32). With log2Beta = 0 and oneMinusBeta = 1 it is the plain column sum of A.
//   grid (ceil(nKeys / 256), G), block 256 (8 warps, 32 keys each), dynamic shared memory
//   COLSUM_SMEM(hd) = 2*64*hd*2 + 2*2*64*4 bytes.
//
// attn_colsum3_hd{64,128}(q, k, lse, out, nQ, nKeys, H, G, qTok, qHead, kTok, kHead, scaleLog2, log2Beta,
//                        oneMinusBeta, meanReduce, queryStep, skipFrom, skipTo)
//   attn_colsum2 with two savings (bench/results/gpu-kernel-notes.md, "score sums v3"):
//   - queryStep k >= 1: for a block of 256 keys that are all cached keys (j < nC), the sum runs over the
//     queries i = (nQ-1) mod k, ..., nQ-1-k, nQ-1 only (every k-th, the last one included) and is multiplied
//     by k: an estimate of the exact sum (k = 1: exact). Blocks holding chunk keys always use every query.
//   - keys j in [skipFrom, skipTo) get 0 without being computed (whole blocks) or are overwritten with 0:
//     the caller passes the keys whose sums are never read (the last cascade's entries but its newest,
//     which the §2 rule never compares again). skipFrom = skipTo = 0 skips nothing.
//   attn_colsum2 = attn_colsum3 with queryStep 1 and nothing skipped.
//
// Why a second pass for the sums: they need each row's final normaliser, which a single streaming pass
// only knows at its end; the exact sums (preferred by the spec) cost one more Q·Kᵀ product, without the
// P·V product. The second pass swaps roles: keys are the MMA's rows (held in registers for the whole
// kernel), queries stream through shared memory, so a key's sum stays in one thread's registers.
// ---------------------------------------------------------------------------------------------------

#include <cuda_bf16.h>
#include <stdint.h>

#define FA_BN 64
#define FA_THREADS 256

// ---- small PTX helpers ---------------------------------------------------------------------------
__device__ __forceinline__ uint32_t smem_u32(const void *p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte asynchronous copy global -> shared; fewer than 16 source bytes (0 here) fill with zeros, so
// rows past the end read as zeros (a NaN from stale memory would survive P = 0 in P·V).
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, bool valid) {
    int n = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
}

// D += A·B, A 16x16 bf16 (row), B 16x8 bf16 (col), D 16x8 f32.
__device__ __forceinline__ void mma_bf16(float *d, const uint32_t *a, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

__device__ __forceinline__ float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// Shared-memory tiles hold rows of HD bf16 (HD/8 pieces of 16 bytes). Piece c of row r is stored at
// piece c ^ (r & 7): the 8 rows one ldmatrix reads then fall into 8 different bank groups.
template <int HD> __device__ __forceinline__ uint32_t tile_offset(int row, int piece) {
    return (uint32_t)(row * HD + ((piece ^ (row & 7)) << 3)) * 2u;
}

// Copies rows [row0, row0+ROWS) of a [rows][HD] matrix (row stride `stride`) into a swizzled tile;
// rows >= limit become zeros.
template <int HD, int ROWS, int THREADS = FA_THREADS>
__device__ __forceinline__ void load_tile(uint32_t tile, const __nv_bfloat16 *base, long stride, int row0, int limit) {
    constexpr int PIECES = HD / 8;
    for (int idx = threadIdx.x; idx < ROWS * PIECES; idx += THREADS) {
        int r = idx / PIECES, c = idx % PIECES;
        int row = row0 + r;
        bool ok = row < limit;
        const __nv_bfloat16 *src = base + (long)(ok ? row : 0) * stride + c * 8;
        cp_async16(tile + tile_offset<HD>(r, c), src, ok);
    }
}

// ---- the attention kernel -------------------------------------------------------------------------
// WARPS warps, each owning RB blocks of 16 query rows (BM = WARPS*16*RB rows per block). With RB = 2 every
// K/V fragment read from shared memory feeds twice the MMAs (shared-memory bandwidth is what limits
// mma.sync attention); the Q fragments then come from shared memory at each step (registers are full).
template <int HD, int RB, int WARPS, typename OutT>
__device__ __forceinline__ void flash_attn(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                                           const __nv_bfloat16 *__restrict__ v, OutT *__restrict__ o,
                                           float *__restrict__ lse, int nQ, int nKeys, int H, int G,
                                           long qTok, long qHead, long kTok, long kHead, long vTok, long vHead,
                                           long oTok, long oHead, float scaleLog2) {
    extern __shared__ __align__(128) unsigned char smem[];
    constexpr int THREADS = WARPS * 32;
    constexpr int BM = WARPS * 16 * RB;
    constexpr int KT = HD / 16;        // k-steps over the head dimension
    constexpr int NT = FA_BN / 8;      // 8-wide key tiles of S
    constexpr int DT = HD / 8;         // 8-wide dimension tiles of O
    constexpr bool Q_IN_REGS = RB == 1;
    const uint32_t sQ = smem_u32(smem);
    const uint32_t sK = sQ + BM * HD * 2;
    const uint32_t sV = sK + 2 * FA_BN * HD * 2;

    const int h = blockIdx.y;
    const int g = h / (H / G);
    // Heavier (later, longer) query tiles first: the causal part makes them the long pole.
    const int m0 = (gridDim.x - 1 - blockIdx.x) * BM;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int gr = lane >> 2, tq = lane & 3;
    const int nC = nKeys - nQ;

    const __nv_bfloat16 *qh = q + h * qHead;
    const __nv_bfloat16 *kh = k + g * kHead;
    const __nv_bfloat16 *vh = v + g * vHead;

    // Keys this block can see at all: up to nC + (last query of the block).
    const int lastKey = nC + min(m0 + BM, nQ) - 1;
    const int nTiles = lastKey / FA_BN + 1;
    // Tiles from here on may hold keys that some row of the block must not see.
    const int firstMasked = (nC + m0) / FA_BN;

    load_tile<HD, BM, THREADS>(sQ, qh, qTok, m0, nQ);
    load_tile<HD, FA_BN, THREADS>(sK, kh, kTok, 0, nKeys);
    cp_async_commit();
    load_tile<HD, FA_BN, THREADS>(sV, vh, vTok, 0, nKeys);
    cp_async_commit();

    uint32_t qf[Q_IN_REGS ? KT : 1][4];
    float acc[RB][DT][4];
#pragma unroll
    for (int b = 0; b < RB; b++)
#pragma unroll
        for (int d = 0; d < DT; d++) acc[b][d][0] = acc[b][d][1] = acc[b][d][2] = acc[b][d][3] = 0.f;
    float mRow[RB][2], lRow[RB][2];
#pragma unroll
    for (int b = 0; b < RB; b++) mRow[b][0] = mRow[b][1] = -INFINITY, lRow[b][0] = lRow[b][1] = 0.f;
    const int wrow = warp * 16 * RB;        // the warp's first row inside the block

    for (int t = 0; t < nTiles; t++) {
        const int buf = t & 1;
        cp_async_wait<1>();
        __syncthreads();
        if (Q_IN_REGS && t == 0) {
#pragma unroll
            for (int kk = 0; kk < (Q_IN_REGS ? KT : 0); kk++) {
                int r = wrow + (lane & 15), c = kk * 2 + (lane >> 4);
                ldmatrix_x4(sQ + tile_offset<HD>(r, c), qf[kk][0], qf[kk][1], qf[kk][2], qf[kk][3]);
            }
        }
        if (t + 1 < nTiles) load_tile<HD, FA_BN, THREADS>(sK + (buf ^ 1) * FA_BN * HD * 2, kh, kTok, (t + 1) * FA_BN, nKeys);
        cp_async_commit();

        // S = Q Kᵀ for this warp's rows and the tile's 64 keys.
        float s[RB][NT][4];
#pragma unroll
        for (int b = 0; b < RB; b++)
#pragma unroll
            for (int n = 0; n < NT; n++) s[b][n][0] = s[b][n][1] = s[b][n][2] = s[b][n][3] = 0.f;
        const uint32_t kTile = sK + buf * FA_BN * HD * 2;
#pragma unroll
        for (int kk = 0; kk < KT; kk++) {
            uint32_t a[RB][4];
#pragma unroll
            for (int b = 0; b < RB; b++) {
                if constexpr (Q_IN_REGS) {
                    a[b][0] = qf[Q_IN_REGS ? kk : 0][0]; a[b][1] = qf[Q_IN_REGS ? kk : 0][1];
                    a[b][2] = qf[Q_IN_REGS ? kk : 0][2]; a[b][3] = qf[Q_IN_REGS ? kk : 0][3];
                } else {
                    int r = wrow + b * 16 + (lane & 15), c = kk * 2 + (lane >> 4);
                    ldmatrix_x4(sQ + tile_offset<HD>(r, c), a[b][0], a[b][1], a[b][2], a[b][3]);
                }
            }
#pragma unroll
            for (int p = 0; p < NT / 2; p++) {
                int r = p * 16 + (lane & 7) + ((lane >> 4) << 3);
                int c = kk * 2 + ((lane >> 3) & 1);
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4(kTile + tile_offset<HD>(r, c), b0, b1, b2, b3);
#pragma unroll
                for (int b = 0; b < RB; b++) {
                    mma_bf16(s[b][2 * p], a[b], b0, b1);
                    mma_bf16(s[b][2 * p + 1], a[b], b2, b3);
                }
            }
        }

        // Online softmax in the log2 domain.
        const bool masked = t >= firstMasked;
        uint32_t pf[RB][FA_BN / 16][4];
#pragma unroll
        for (int b = 0; b < RB; b++) {
            float mNew[2];
#pragma unroll
            for (int hr = 0; hr < 2; hr++) {
                float mx = mRow[b][hr];
                const int limit = nC + m0 + wrow + b * 16 + gr + hr * 8;   // last key this row sees
#pragma unroll
                for (int n = 0; n < NT; n++) {
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        float x = s[b][n][hr * 2 + e] * scaleLog2;
                        if (masked) {
                            int key = t * FA_BN + n * 8 + tq * 2 + e;
                            if (key > limit) x = -INFINITY;
                        }
                        s[b][n][hr * 2 + e] = x;
                        mx = fmaxf(mx, x);
                    }
                }
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, 2));
                mNew[hr] = mx;
                float alpha = fast_exp2(mRow[b][hr] - mx);   // 0 on the first tile (-inf - finite)
                mRow[b][hr] = mx;
                lRow[b][hr] *= alpha;
#pragma unroll
                for (int d = 0; d < DT; d++) {
                    acc[b][d][hr * 2] *= alpha;
                    acc[b][d][hr * 2 + 1] *= alpha;
                }
            }
#pragma unroll
            for (int n = 0; n < NT; n++) {
                float p0 = fast_exp2(s[b][n][0] - mNew[0]), p1 = fast_exp2(s[b][n][1] - mNew[0]);
                float p2 = fast_exp2(s[b][n][2] - mNew[1]), p3 = fast_exp2(s[b][n][3] - mNew[1]);
                lRow[b][0] += p0 + p1;
                lRow[b][1] += p2 + p3;
                pf[b][n >> 1][(n & 1) * 2] = pack_bf16(p0, p1);
                pf[b][n >> 1][(n & 1) * 2 + 1] = pack_bf16(p2, p3);
            }
        }

        cp_async_wait<1>();
        __syncthreads();
        if (t + 1 < nTiles) load_tile<HD, FA_BN, THREADS>(sV + (buf ^ 1) * FA_BN * HD * 2, vh, vTok, (t + 1) * FA_BN, nKeys);
        cp_async_commit();

        // O += P V.
        const uint32_t vTile = sV + buf * FA_BN * HD * 2;
#pragma unroll
        for (int kk = 0; kk < FA_BN / 16; kk++) {
#pragma unroll
            for (int p = 0; p < DT / 2; p++) {
                int r = kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3);
                int c = p * 2 + (lane >> 4);
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4_trans(vTile + tile_offset<HD>(r, c), b0, b1, b2, b3);
#pragma unroll
                for (int b = 0; b < RB; b++) {
                    mma_bf16(acc[b][2 * p], pf[b][kk], b0, b1);
                    mma_bf16(acc[b][2 * p + 1], pf[b][kk], b2, b3);
                }
            }
        }
    }
    cp_async_wait<0>();

    // Epilogue: finish the row sums across the quad, normalise, store.
#pragma unroll
    for (int b = 0; b < RB; b++) {
#pragma unroll
        for (int hr = 0; hr < 2; hr++) {
            float l = lRow[b][hr];
            l += __shfl_xor_sync(0xffffffff, l, 1);
            l += __shfl_xor_sync(0xffffffff, l, 2);
            const int row = m0 + wrow + b * 16 + gr + hr * 8;
            if (row >= nQ) continue;
            const float inv = 1.f / l;
            OutT *orow = o + h * oHead + (long)row * oTok;
#pragma unroll
            for (int d = 0; d < DT; d++) {
                float x0 = acc[b][d][hr * 2] * inv, x1 = acc[b][d][hr * 2 + 1] * inv;
                int col = d * 8 + tq * 2;
                if constexpr (sizeof(OutT) == 4) {
                    *reinterpret_cast<float2 *>(reinterpret_cast<float *>(orow) + col) = make_float2(x0, x1);
                } else {
                    *reinterpret_cast<__nv_bfloat162 *>(reinterpret_cast<__nv_bfloat16 *>(orow) + col) =
                        __floats2bfloat162_rn(x0, x1);
                }
            }
            if (lse != nullptr && tq == 0) lse[(long)h * nQ + row] = mRow[b][hr] + __log2f(l);
        }
    }
}

#define FLASH_ENTRY(NAME, HD, RB, WARPS, MINB, OUT)                                                        \
    extern "C" __global__ void __launch_bounds__(WARPS * 32, MINB)                                            \
        NAME(const __nv_bfloat16 *q, const __nv_bfloat16 *k, const __nv_bfloat16 *v, OUT *o, float *lse,     \
             int nQ, int nKeys, int H, int G, long qTok, long qHead, long kTok, long kHead, long vTok,        \
             long vHead, long oTok, long oHead, float scaleLog2) {                                            \
        flash_attn<HD, RB, WARPS, OUT>(q, k, v, o, lse, nQ, nKeys, H, G, qTok, qHead, kTok, kHead, vTok,     \
                                       vHead, oTok, oHead, scaleLog2);                                        \
    }
// Version 2 (bench/results/gpu-kernel-notes.md): 4 warps x 32 rows, Q from shared memory, two blocks per
// multiprocessor. (Version 1, 8 warps x 16 rows with Q in registers = RB 1, WARPS 8, measured 20% slower;
// 8 warps x 32 rows, RB 2 WARPS 8, measured the same as version 2.)
FLASH_ENTRY(flash_attn2_hd128_bf16, 128, 2, 4, 2, __nv_bfloat16)
FLASH_ENTRY(flash_attn2_hd128_f32, 128, 2, 4, 2, float)
FLASH_ENTRY(flash_attn2_hd64_bf16, 64, 2, 4, 2, __nv_bfloat16)
FLASH_ENTRY(flash_attn2_hd64_f32, 64, 2, 4, 2, float)

// ---- the score-sum kernel -------------------------------------------------------------------------
#define CS_BQ 64    // queries per streamed tile

// ---- score sums v2 --------------------------------------------------------------------------------
// Each warp owns KB blocks of 16 keys (K fragments in registers), so each Q fragment read from shared
// memory feeds KB times the MMAs. The §4 weight is split into a per-query and a per-key term, staged
// with the query tile: 2^(s2 - lse_i + w) with w = (nQ-1-i)·log2β (cached key) = s2 - aC_i, or
// w = (i - j')·log2β (chunk key j') = s2 - aN_i + bj with aN_i = lse_i - i·log2β, bj = -j'·log2β.
template <int HD, int KB>
__device__ __forceinline__ void attn_colsum2(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                                             const float *__restrict__ lse, float *__restrict__ out, int nQ, int nKeys,
                                             int H, int G, long qTok, long qHead, long kTok, long kHead,
                                             float scaleLog2, float log2Beta, float oneMinusBeta, int meanReduce,
                                             int queryStep, int skipFrom, int skipTo) {
    extern __shared__ __align__(128) unsigned char smem[];
    constexpr int KT = HD / 16;
    constexpr int NT = CS_BQ / 8;
    constexpr int BK = 8 * 16 * KB;                                          // keys per block
    const uint32_t sQ = smem_u32(smem);                                      // 2 stages of [64][HD]
    float *sA = reinterpret_cast<float *>(smem + 2 * CS_BQ * HD * 2);        // 2 stages of aC[64], aN[64]

    const int g = blockIdx.y;
    const int group = H / G;
    const int k0 = blockIdx.x * BK;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int gr = lane >> 2, tq = lane & 3;
    const int nC = nKeys - nQ;
    const __nv_bfloat16 *kg = k + g * kHead;
    if (k0 >= skipFrom && k0 + BK <= skipTo) {   // settled keys only: their sums are never read (0 by contract)
        for (int j = k0 + threadIdx.x; j < min(k0 + BK, nKeys); j += FA_THREADS) out[(long)g * nKeys + j] = 0.f;
        return;
    }
    // Query sampling: blocks of cached keys only sum over the queries i = off + every·r (r < nS), the last query
    // always among them, and scale by `every`; blocks holding chunk keys use every query (every = 1).
    const int every = k0 + BK > nC ? 1 : queryStep;
    const int off = (nQ - 1) % every;
    const int nS = (nQ - 1 - off) / every + 1;

    uint32_t kf[KB][KT][4];
    int key[KB][2];
    float bj[KB][2];
    bool chunk[KB][2];
#pragma unroll
    for (int b = 0; b < KB; b++) {
        const int keyA = k0 + warp * 16 * KB + b * 16 + gr, keyB = keyA + 8;
        key[b][0] = keyA; key[b][1] = keyB;
        const __nv_bfloat16 *ra = kg + (long)min(keyA, nKeys - 1) * kTok;
        const __nv_bfloat16 *rb = kg + (long)min(keyB, nKeys - 1) * kTok;
#pragma unroll
        for (int kk = 0; kk < KT; kk++) {
            int c = kk * 16 + tq * 2;
            kf[b][kk][0] = *reinterpret_cast<const uint32_t *>(ra + c);
            kf[b][kk][1] = *reinterpret_cast<const uint32_t *>(rb + c);
            kf[b][kk][2] = *reinterpret_cast<const uint32_t *>(ra + c + 8);
            kf[b][kk][3] = *reinterpret_cast<const uint32_t *>(rb + c + 8);
        }
#pragma unroll
        for (int hr = 0; hr < 2; hr++) {
            chunk[b][hr] = key[b][hr] >= nC;
            bj[b][hr] = chunk[b][hr] ? -(float)(key[b][hr] - nC) * log2Beta : 0.f;
        }
    }
    // Queries before this one see none of the block's keys (causal inside the chunk).
    const int qStart = max(0, k0 - nC) / CS_BQ * CS_BQ;   // (every = 1 whenever this is not 0)
    const int nTiles = (nS - qStart + CS_BQ - 1) / CS_BQ;
    const int total = group * nTiles;   // (head, query tile) steps

    float red[KB][2], sum[KB][2];
#pragma unroll
    for (int b = 0; b < KB; b++)
#pragma unroll
        for (int hr = 0; hr < 2; hr++) red[b][hr] = meanReduce ? 0.f : -INFINITY, sum[b][hr] = 0.f;

    auto issue = [&](int step) {
        const int hh = g * group + step / nTiles;
        const int i0 = qStart + (step % nTiles) * CS_BQ;
        const int stage = step & 1;
        load_tile<HD, CS_BQ>(sQ + stage * CS_BQ * HD * 2, q + hh * qHead + off * qTok, qTok * every, i0, nS);
        for (int idx = threadIdx.x; idx < CS_BQ; idx += FA_THREADS) {
            const int i = off + (i0 + idx) * every;
            const float l = i0 + idx < nS ? lse[(long)hh * nQ + i] : INFINITY;   // +inf: contributes 0
            sA[stage * 2 * CS_BQ + idx] = l - (float)(nQ - 1 - i) * log2Beta;
            sA[stage * 2 * CS_BQ + CS_BQ + idx] = l - (float)i * log2Beta;
        }
    };
    issue(0);
    cp_async_commit();

    for (int step = 0; step < total; step++) {
        const int stage = step & 1;
        const int i0 = qStart + (step % nTiles) * CS_BQ;
        cp_async_wait<0>();
        __syncthreads();
        if (step + 1 < total) issue(step + 1);
        cp_async_commit();

        float s[KB][NT][4];
#pragma unroll
        for (int b = 0; b < KB; b++)
#pragma unroll
            for (int n = 0; n < NT; n++) s[b][n][0] = s[b][n][1] = s[b][n][2] = s[b][n][3] = 0.f;
        const uint32_t qTile = sQ + stage * CS_BQ * HD * 2;
#pragma unroll
        for (int kk = 0; kk < KT; kk++) {
#pragma unroll
            for (int p = 0; p < NT / 2; p++) {
                int r = p * 16 + (lane & 7) + ((lane >> 4) << 3);
                int c = kk * 2 + ((lane >> 3) & 1);
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4(qTile + tile_offset<HD>(r, c), b0, b1, b2, b3);
#pragma unroll
                for (int b = 0; b < KB; b++) {
                    mma_bf16(s[b][2 * p], kf[b][kk], b0, b1);
                    mma_bf16(s[b][2 * p + 1], kf[b][kk], b2, b3);
                }
            }
        }
        const float *aC = sA + stage * 2 * CS_BQ, *aN = aC + CS_BQ;
        // Some key of this block lies ahead of some query of this tile: check each pair.
        const bool diagonal = k0 + BK - 1 > nC + i0;
#pragma unroll
        for (int n = 0; n < NT; n++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int col = n * 8 + tq * 2 + e;
                const float ac = aC[col], an = aN[col];
#pragma unroll
                for (int b = 0; b < KB; b++) {
#pragma unroll
                    for (int hr = 0; hr < 2; hr++) {
                        float x = chunk[b][hr] ? s[b][n][hr * 2 + e] * scaleLog2 - an + bj[b][hr]
                                               : s[b][n][hr * 2 + e] * scaleLog2 - ac;
                        if (diagonal && key[b][hr] > nC + i0 + col) x = -INFINITY;
                        sum[b][hr] += fast_exp2(x);
                    }
                }
            }
        }
        if ((step + 1) % nTiles == 0) {   // one query head done: reduce it into the group's result
#pragma unroll
            for (int b = 0; b < KB; b++)
#pragma unroll
                for (int hr = 0; hr < 2; hr++) {
                    float x = sum[b][hr];
                    x += __shfl_xor_sync(0xffffffff, x, 1);
                    x += __shfl_xor_sync(0xffffffff, x, 2);
                    red[b][hr] = meanReduce ? red[b][hr] + x : fmaxf(red[b][hr], x);
                    sum[b][hr] = 0.f;
                }
        }
    }
    cp_async_wait<0>();
    if (tq == 0) {
#pragma unroll
        for (int b = 0; b < KB; b++)
#pragma unroll
            for (int hr = 0; hr < 2; hr++) {
                if (key[b][hr] < nKeys) {
                    float x = meanReduce ? red[b][hr] / group : red[b][hr];
                    const bool skipped = key[b][hr] >= skipFrom && key[b][hr] < skipTo;
                    out[(long)g * nKeys + key[b][hr]] = skipped ? 0.f : x * (oneMinusBeta * every);
                }
            }
    }
}

#define COLSUM2_ENTRY(NAME, HD, KB, MINB)                                                                  \
    extern "C" __global__ void __launch_bounds__(FA_THREADS, MINB)                                            \
        NAME(const __nv_bfloat16 *q, const __nv_bfloat16 *k, const float *lse, float *out, int nQ, int nKeys, \
             int H, int G, long qTok, long qHead, long kTok, long kHead, float scaleLog2, float log2Beta,     \
             float oneMinusBeta, int meanReduce) {                                                            \
        attn_colsum2<HD, KB>(q, k, lse, out, nQ, nKeys, H, G, qTok, qHead, kTok, kHead, scaleLog2, log2Beta, \
                             oneMinusBeta, meanReduce, 1, 0, 0);                                              \
    }
#define COLSUM3_ENTRY(NAME, HD, KB, MINB)                                                                  \
    extern "C" __global__ void __launch_bounds__(FA_THREADS, MINB)                                            \
        NAME(const __nv_bfloat16 *q, const __nv_bfloat16 *k, const float *lse, float *out, int nQ, int nKeys, \
             int H, int G, long qTok, long qHead, long kTok, long kHead, float scaleLog2, float log2Beta,     \
             float oneMinusBeta, int meanReduce, int queryStep, int skipFrom, int skipTo) {                  \
        attn_colsum2<HD, KB>(q, k, lse, out, nQ, nKeys, H, G, qTok, qHead, kTok, kHead, scaleLog2, log2Beta, \
                             oneMinusBeta, meanReduce, queryStep, skipFrom, skipTo);                          \
    }
// Version 2: 8 warps x 32 keys (256 keys per block). (Version 1, 16 keys per warp with the weights computed per
// element, measured 8-14% slower.)
COLSUM2_ENTRY(attn_colsum2_hd128, 128, 2, 1)
COLSUM2_ENTRY(attn_colsum2_hd64, 64, 2, 1)
// attn_colsum3: the same kernel with query sampling and settled keys skipped (header).
COLSUM3_ENTRY(attn_colsum3_hd128, 128, 2, 1)
COLSUM3_ENTRY(attn_colsum3_hd64, 64, 2, 1)
