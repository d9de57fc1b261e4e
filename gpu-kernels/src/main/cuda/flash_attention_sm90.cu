// Flash attention of one chunk of queries over the cached keys plus the chunk's own keys, for Hopper (sm_90a
// only: wgmma). Same launch contract and results as flash_attn2 in flash_attention.cu (read its header), for
// head dimension 128; flash_attention.cu stays the portable path (Ampere, Ada, and Hopper without this module).
//
// flash_attn3_hd128_{bf16,f32}(q, k, v, o, lse, nQ, nKeys, H, G, qTok, qHead, kTok, kHead, vTok, vHead,
//                              oTok, oHead, scaleLog2)     (arguments exactly as flash_attn2_hd128_*)
//   grid (ceil(nQ / 128), H), block 256 (two warpgroups, 64 query rows each),
//   dynamic shared memory FA3_SMEM = 1024 + (128 + 6 * 128) * 128 * 2 = 230,400 bytes (the caller raises
//   CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES first). Requires scaleLog2 > 0.
//
// attn_colsum4_hd128: the score sums of attn_colsum3_hd128 (flash_attention.cu) on wgmma; contract further down.
//
// How (version 1, bench/results/gpu-kernel-notes.md): tiles of 128 keys. S = Q·Kᵀ and O += P·V are warpgroup
// MMAs (wgmma, bf16 in, f32 accumulate) with Q, K and V read from shared memory (P from registers). All 256
// threads copy the next tiles with cp.async (16 bytes, 128-byte swizzle, three stages of K and of V, two
// tiles ahead). Inside a warpgroup the softmax of tile t overlaps the MMA O += P(t-1)·V(t-1), which is issued
// together with S(t) = Q·K(t)ᵀ and waited for only before O is rescaled.

#include <cuda_bf16.h>
#include <stdint.h>

#define FA3_BM 128
#define FA3_BN 128
#define FA3_HD 128
#define FA3_STAGES 3
#define FA3_THREADS 256

__device__ __forceinline__ uint32_t smem_u32(const void *p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte asynchronous copy global -> shared; with valid false nothing is read and the 16 bytes become zeros
// (rows past the end must read as zeros: stale NaNs would survive P = 0 in P·V).
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, bool valid) {
    int n = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
// Shared memory written by ordinary (generic-proxy) copies that wgmma (async proxy) reads next: each writing
// thread fences after its copies landed, before the barrier.
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wgmma_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Keeps the compiler from moving reads or writes of an accumulator across an asynchronous MMA's issue or wait.
template <int N> __device__ __forceinline__ void fence_regs(float *r) {
#pragma unroll
    for (int i = 0; i < N; i++) asm volatile("" : "+f"(r[i])::"memory");
}
template <int N> __device__ __forceinline__ void fence_regs(uint32_t *r) {
#pragma unroll
    for (int i = 0; i < N; i++) asm volatile("" : "+r"(r[i])::"memory");
}

// Tiles: rows of 128 bf16 stored as two "atoms" of [rows][64] (128-byte rows); inside an atom the 16-byte piece
// c of row r sits at piece c ^ (r & 7), the hardware's 128-byte swizzle. Atoms start at 1024-byte boundaries.
template <int ROWS> __device__ __forceinline__ uint32_t tile_offset(int row, int piece) {
    return (uint32_t)((piece >> 3) * ROWS * 128 + row * 128 + (((piece & 7) ^ (row & 7)) << 4));
}

// wgmma shared-memory matrix descriptor, 128-byte swizzle: start address, leading and stride byte offsets.
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr, uint32_t leading, uint32_t stride) {
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)((leading >> 4) & 0x3FFF) << 16) |
           ((uint64_t)((stride >> 4) & 0x3FFF) << 32) | (1ull << 62);
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

// Copies rows [row0, row0 + ROWS) of a [rows][128] bf16 matrix (row stride `stride`) into a swizzled tile with
// all 256 threads; rows >= limit become zeros.
template <int ROWS>
__device__ __forceinline__ void load_tile(uint32_t tile, const __nv_bfloat16 *base, long stride, int row0, int limit) {
#pragma unroll
    for (int idx = threadIdx.x; idx < ROWS * 16; idx += FA3_THREADS) {
        const int r = idx >> 4, c = idx & 15;
        const int row = row0 + r;
        const bool ok = row < limit;
        cp_async16(tile + tile_offset<ROWS>(r, c), base + (long)(ok ? row : 0) * stride + c * 8, ok);
    }
}

// D[64x128] f32 = (accumulate ? D : 0) + A[64x16]·B[16x128]; A and B from shared memory, both K-major with the
// 128-byte swizzle (descriptors from smem_desc).
__device__ __forceinline__ void wgmma_ss(float *d, uint64_t descA, uint64_t descB, int accumulate) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
        "}, %64, %65, p, 1, 1, 0, 0;\n}\n"
        :
          "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(descA), "l"(descB), "r"(accumulate));
}

// D[64x128] f32 += A[64x16]·B[16x128]; A from registers (per warp the m16n8k16 A fragment of its 16 rows), B from
// shared memory stored N-major (row k of B contiguous along N: "transposed"), 128-byte swizzle.
__device__ __forceinline__ void wgmma_rs(float *d, const uint32_t *a, uint64_t descB) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
        "}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
        :
          "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(descB), "r"(1));
}

template <typename OutT>
__device__ __forceinline__ void flash_attn3(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                                            const __nv_bfloat16 *__restrict__ v, OutT *__restrict__ o,
                                            float *__restrict__ lse, int nQ, int nKeys, int H, int G, long qTok,
                                            long qHead, long kTok, long kHead, long vTok, long vHead, long oTok,
                                            long oHead, float scaleLog2) {
    extern __shared__ unsigned char smem[];
    constexpr uint32_t TILE = FA3_BN * FA3_HD * 2;     // bytes of one K or V tile
    const uint32_t sQ = (smem_u32(smem) + 1023u) & ~1023u;
    const uint32_t sK = sQ + FA3_BM * FA3_HD * 2;
    const uint32_t sV = sK + FA3_STAGES * TILE;

    const int h = blockIdx.y;
    const int g = h / (H / G);
    // Heavier (later, longer) query tiles first: the causal part makes them the long pole.
    const int m0 = (gridDim.x - 1 - blockIdx.x) * FA3_BM;
    const int wg = threadIdx.x >> 7, warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    const int gr = lane >> 2, tq = lane & 3;
    const int nC = nKeys - nQ;
    const __nv_bfloat16 *qh = q + h * qHead;
    const __nv_bfloat16 *kh = k + g * kHead;
    const __nv_bfloat16 *vh = v + g * vHead;

    const int lastKey = nC + min(m0 + FA3_BM, nQ) - 1;   // the last key any row of the block sees
    const int nTiles = lastKey / FA3_BN + 1;
    const int firstMasked = (nC + m0) / FA3_BN;           // tiles from here on hold keys some row must not see
    const int row0 = m0 + wg * 64 + warp * 16 + gr;       // this thread's rows: row0 and row0 + 8
    const int limit0 = nC + row0, limit1 = limit0 + 8;     // the last key each of them sees

    // Copy groups: group 0 = Q, K(0); group j >= 1 = K(j), V(j-1). Iteration t needs group t and issues t + 2.
    load_tile<FA3_BM>(sQ, qh, qTok, m0, nQ);
    load_tile<FA3_BN>(sK, kh, kTok, 0, nKeys);
    cp_async_commit();
    if (nTiles > 1) load_tile<FA3_BN>(sK + TILE, kh, kTok, FA3_BN, nKeys);
    load_tile<FA3_BN>(sV, vh, vTok, 0, nKeys);
    cp_async_commit();

    float acc[64], s[64];
    uint32_t p[32];
#pragma unroll
    for (int i = 0; i < 64; i++) acc[i] = 0.f, s[i] = 0.f;
#pragma unroll
    for (int i = 0; i < 32; i++) p[i] = 0u;
    float mRaw0 = -INFINITY, mRaw1 = -INFINITY, l0 = 0.f, l1 = 0.f;

    // Iteration t: wait for copy group t, then issue group t + 2 (K(t+2) and V(t+1)) into the stages that
    // iteration t-1 read.
    auto wait_tiles = [&]() {
        cp_async_wait<1>();
        fence_proxy_async();
        __syncthreads();   // group t is in shared memory for everyone; iteration t-1's reads are done
    };
    auto load_tiles = [&](int t) {
        if (t + 2 < nTiles) load_tile<FA3_BN>(sK + ((t + 2) % FA3_STAGES) * TILE, kh, kTok, (t + 2) * FA3_BN, nKeys);
        if (t + 1 < nTiles) load_tile<FA3_BN>(sV + ((t + 1) % FA3_STAGES) * TILE, vh, vTok, (t + 1) * FA3_BN, nKeys);
        cp_async_commit();
    };
    // S = Q·K(t)ᵀ, 8 steps of 16 along the head dimension.
    auto issue_qk = [&](int t) {
        const uint32_t kt = sK + (t % FA3_STAGES) * TILE;
#pragma unroll
        for (int kk = 0; kk < 8; kk++) {
            const uint32_t a = sQ + (kk >> 2) * FA3_BM * 128 + wg * 64 * 128 + (kk & 3) * 32;
            const uint32_t b = kt + (kk >> 2) * FA3_BN * 128 + (kk & 3) * 32;
            wgmma_ss(s, smem_desc(a, 16, 1024), smem_desc(b, 16, 1024), kk > 0);
        }
        wgmma_commit();
    };
    // O += P(t)·V(t), 8 steps of 16 keys; V is N-major, its second 64 columns 16 KB further on.
    auto issue_pv = [&](int t) {
        const uint32_t vt = sV + (t % FA3_STAGES) * TILE;
#pragma unroll
        for (int kk = 0; kk < 8; kk++) wgmma_rs(acc, &p[kk * 4], smem_desc(vt + kk * 16 * 128, FA3_BN * 128, 1024));
        wgmma_commit();
    };
    // Online softmax of S(t) in the log2 domain, in place (s becomes P in f32); returns the rescale factors.
    auto softmax = [&](int t, float &alpha0, float &alpha1) {
        if (t >= firstMasked) {
#pragma unroll
            for (int j = 0; j < 16; j++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int key = t * FA3_BN + j * 8 + tq * 2 + (e & 1);
                    if (key > (e < 2 ? limit0 : limit1)) s[j * 4 + e] = -INFINITY;
                }
        }
        float mx0 = mRaw0, mx1 = mRaw1;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            mx0 = fmaxf(mx0, fmaxf(s[j * 4], s[j * 4 + 1]));
            mx1 = fmaxf(mx1, fmaxf(s[j * 4 + 2], s[j * 4 + 3]));
        }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffff, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffff, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffff, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffff, mx1, 2));
        // Key 0 is visible to every row, so mx is finite from the first tile on; alpha is 0 there.
        alpha0 = fast_exp2((mRaw0 - mx0) * scaleLog2);
        alpha1 = fast_exp2((mRaw1 - mx1) * scaleLog2);
        mRaw0 = mx0;
        mRaw1 = mx1;
        const float ms0 = mx0 * scaleLog2, ms1 = mx1 * scaleLog2;
        float sum0 = 0.f, sum1 = 0.f;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            s[j * 4] = fast_exp2(fmaf(s[j * 4], scaleLog2, -ms0));
            s[j * 4 + 1] = fast_exp2(fmaf(s[j * 4 + 1], scaleLog2, -ms0));
            s[j * 4 + 2] = fast_exp2(fmaf(s[j * 4 + 2], scaleLog2, -ms1));
            s[j * 4 + 3] = fast_exp2(fmaf(s[j * 4 + 3], scaleLog2, -ms1));
            sum0 += s[j * 4] + s[j * 4 + 1];
            sum1 += s[j * 4 + 2] + s[j * 4 + 3];
        }
        l0 = l0 * alpha0 + sum0;
        l1 = l1 * alpha1 + sum1;
    };
    // P(t) as the A fragments of the next P·V: step kk covers keys 16kk .. 16kk+15 (accumulator column
    // blocks 2kk and 2kk+1).
    auto pack_p = [&]() {
#pragma unroll
        for (int kk = 0; kk < 8; kk++) {
            p[kk * 4] = pack_bf16(s[kk * 8], s[kk * 8 + 1]);
            p[kk * 4 + 1] = pack_bf16(s[kk * 8 + 2], s[kk * 8 + 3]);
            p[kk * 4 + 2] = pack_bf16(s[kk * 8 + 4], s[kk * 8 + 5]);
            p[kk * 4 + 3] = pack_bf16(s[kk * 8 + 6], s[kk * 8 + 7]);
        }
    };

    float alpha0, alpha1;
    wait_tiles();
    load_tiles(0);
    wgmma_fence();
    issue_qk(0);
    wgmma_wait<0>();
    fence_regs<64>(s);
    softmax(0, alpha0, alpha1);   // O is still 0: nothing to rescale
    pack_p();
    for (int t = 1; t < nTiles; t++) {
        wait_tiles();
        load_tiles(t);
        wgmma_fence();
        issue_qk(t);
        issue_pv(t - 1);
        wgmma_wait<1>();           // S(t) done; P(t-1)·V(t-1) may still run
        fence_regs<64>(s);
        softmax(t, alpha0, alpha1);
        wgmma_wait<0>();           // P(t-1)·V(t-1) done: O may be rescaled and P overwritten
        fence_regs<64>(acc);
        fence_regs<32>(p);
#pragma unroll
        for (int j = 0; j < 16; j++) {
            acc[j * 4] *= alpha0;
            acc[j * 4 + 1] *= alpha0;
            acc[j * 4 + 2] *= alpha1;
            acc[j * 4 + 3] *= alpha1;
        }
        pack_p();
    }
    wait_tiles();
    wgmma_fence();
    issue_pv(nTiles - 1);
    wgmma_wait<0>();
    fence_regs<64>(acc);
    cp_async_wait<0>();

    // Epilogue: finish the row sums across the quad, normalise, store.
#pragma unroll
    for (int hr = 0; hr < 2; hr++) {
        float l = hr ? l1 : l0;
        l += __shfl_xor_sync(0xffffffff, l, 1);
        l += __shfl_xor_sync(0xffffffff, l, 2);
        const int row = row0 + hr * 8;
        if (row >= nQ) continue;
        const float inv = 1.f / l;
        OutT *orow = o + h * oHead + (long)row * oTok;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const float x0 = acc[j * 4 + hr * 2] * inv, x1 = acc[j * 4 + hr * 2 + 1] * inv;
            const int col = j * 8 + tq * 2;
            if constexpr (sizeof(OutT) == 4) {
                *reinterpret_cast<float2 *>(reinterpret_cast<float *>(orow) + col) = make_float2(x0, x1);
            } else {
                *reinterpret_cast<__nv_bfloat162 *>(reinterpret_cast<__nv_bfloat16 *>(orow) + col) =
                    __floats2bfloat162_rn(x0, x1);
            }
        }
        if (lse != nullptr && tq == 0) lse[(long)h * nQ + row] = (hr ? mRaw1 : mRaw0) * scaleLog2 + __log2f(l);
    }
}

#define FLASH3_ENTRY(NAME, OUT)                                                                                  \
    extern "C" __global__ void __launch_bounds__(FA3_THREADS, 1)                                                  \
        NAME(const __nv_bfloat16 *q, const __nv_bfloat16 *k, const __nv_bfloat16 *v, OUT *o, float *lse, int nQ,  \
             int nKeys, int H, int G, long qTok, long qHead, long kTok, long kHead, long vTok, long vHead,         \
             long oTok, long oHead, float scaleLog2) {                                                              \
        flash_attn3<OUT>(q, k, v, o, lse, nQ, nKeys, H, G, qTok, qHead, kTok, kHead, vTok, vHead, oTok, oHead,    \
                         scaleLog2);                                                                                \
    }
// Version 1 (bench/results/gpu-kernel-notes.md). Version 2 (copies issued after the MMAs) measured the same, version
// 3 (row maxima and sums as trees) 4% slower: both dropped.
FLASH3_ENTRY(flash_attn3_hd128_bf16, __nv_bfloat16)
FLASH3_ENTRY(flash_attn3_hd128_f32, float)

// ---- the score sums on wgmma ------------------------------------------------------------------------
// attn_colsum4_hd128(q, k, lse, out, nQ, nKeys, H, G, qTok, qHead, kTok, kHead, scaleLog2, log2Beta,
//                    oneMinusBeta, meanReduce, queryStep, skipFrom, skipTo)
//   Exactly attn_colsum3_hd128's contract and results (flash_attention.cu: §4 score sums from the lse of the
//   attention, optional query sampling, skipped keys 0), for head dimension 128.
//   grid (ceil(nKeys / 128), G), block 256, dynamic shared memory CS4_SMEM = 1024 + 128*256 + 4*(128*256 + 1024)
//   = 168,960 bytes.
// How (version 2: blocks of cached keys only take a short path; the exp2 per element is one FFMA and one MUFU, summed
// into four independent partial sums): the block's 128 keys (64 per warpgroup) stay in shared memory as the A operand; query tiles of 128 stream
// through four stages (three ahead) with their per-query weight terms; the MMA Sᵀ = K·Q(s+1)ᵀ is issued before
// the exponentials of step s run (on a copy of step s's accumulator), so MMA and exp2 overlap.
#define CS4_BQ 128
#define CS4_STAGES 4

// CACHED_ONLY: every key of the block is a cached key (no chunk keys, no causal mask): the short path.
template <bool CACHED_ONLY>
__device__ __forceinline__ void colsum4(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                                        const float *__restrict__ lse, float *__restrict__ out, int nQ, int nKeys,
                                        int H, int G, long qTok, long qHead, long kTok, long kHead, float scaleLog2,
                                        float log2Beta, float oneMinusBeta, int meanReduce, int queryStep,
                                        int skipFrom, int skipTo) {
    extern __shared__ unsigned char smem[];
    constexpr uint32_t QTILE = CS4_BQ * FA3_HD * 2;
    constexpr uint32_t STAGE = QTILE + 2 * CS4_BQ * 4;      // a query tile and its two weight rows
    const uint32_t base = (smem_u32(smem) + 1023u) & ~1023u;
    unsigned char *baseGeneric = smem + (base - smem_u32(smem));
    const uint32_t sK = base;
    const uint32_t sS = base + 128 * FA3_HD * 2;             // stages

    const int g = blockIdx.y, group = H / G;
    const int k0 = blockIdx.x * 128;
    const int wg = threadIdx.x >> 7, warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    const int gr = lane >> 2, tq = lane & 3;
    const int nC = nKeys - nQ;
    if (k0 >= skipFrom && k0 + 128 <= skipTo) {   // settled keys only: their sums are never read (0 by contract)
        for (int j = k0 + threadIdx.x; j < min(k0 + 128, nKeys); j += FA3_THREADS) out[(long)g * nKeys + j] = 0.f;
        return;
    }
    // Sampling only where the 256 keys around (attn_colsum3's block) are all cached keys: the same estimate.
    const int every = k0 / 256 * 256 + 256 > nC ? 1 : queryStep;
    const int off = (nQ - 1) % every;
    const int nS = (nQ - 1 - off) / every + 1;
    const int qStart = max(0, k0 - nC) / CS4_BQ * CS4_BQ;   // earlier queries see none of the keys (every = 1 then)
    const int nTiles = (nS - qStart + CS4_BQ - 1) / CS4_BQ;
    const int total = group * nTiles;                        // (head, query tile) steps

    // This thread's two keys (accumulator rows) and their per-key terms.
    int key[2];
    float bj[2];
    bool chunk[2];
#pragma unroll
    for (int hr = 0; hr < 2; hr++) {
        key[hr] = k0 + wg * 64 + warp * 16 + gr + hr * 8;
        chunk[hr] = key[hr] >= nC;
        bj[hr] = chunk[hr] ? -(float)(key[hr] - nC) * log2Beta : 0.f;
    }

    auto issue = [&](int step) {   // query tile and weights of step `step` into stage step % 4
        const int hh = g * group + step / nTiles;
        const int i0 = qStart + (step % nTiles) * CS4_BQ;
        const uint32_t st = sS + (step % CS4_STAGES) * STAGE;
        load_tile<CS4_BQ>(st, q + hh * qHead + off * qTok, qTok * every, i0, nS);
        float *a = reinterpret_cast<float *>(baseGeneric + (st - base) + QTILE);
        for (int idx = threadIdx.x; idx < CS4_BQ; idx += FA3_THREADS) {
            const int r = i0 + idx;
            const int i = off + r * every;
            const float l = r < nS ? lse[(long)hh * nQ + i] : INFINITY;   // +inf: contributes 0
            a[idx] = l - (float)(nQ - 1 - i) * log2Beta;                 // cached keys
            a[CS4_BQ + idx] = l - (float)i * log2Beta;                   // chunk keys (plus bj)
        }
    };
    auto issue_mma = [&](int step, float *acc) {   // Sᵀ[64 keys][128 queries] of this warpgroup
        const uint32_t st = sS + (step % CS4_STAGES) * STAGE;
#pragma unroll
        for (int kk = 0; kk < 8; kk++) {
            const uint32_t a = sK + (kk >> 2) * 128 * 128 + wg * 64 * 128 + (kk & 3) * 32;
            const uint32_t b = st + (kk >> 2) * CS4_BQ * 128 + (kk & 3) * 32;
            wgmma_ss(acc, smem_desc(a, 16, 1024), smem_desc(b, 16, 1024), kk > 0);
        }
        wgmma_commit();
    };

    float red[2], sum[2];
#pragma unroll
    for (int hr = 0; hr < 2; hr++) red[hr] = meanReduce ? 0.f : -INFINITY, sum[hr] = 0.f;

    // Copy groups: 0 = the keys + step 0, then one per step; step s needs group s + 1 (for the MMA of s + 1)
    // and issues group s + 3 into the stage step s - 1 used.
    load_tile<128>(sK, k + g * kHead, kTok, k0, nKeys);
    issue(0);
    cp_async_commit();
    if (total > 1) issue(1);
    cp_async_commit();
    if (total > 2) issue(2);
    cp_async_commit();

    auto process = [&](int step, float *acc) {   // exp2 of the step's weighted probabilities, summed per key
        const int i0 = qStart + (step % nTiles) * CS4_BQ;
        const float *a = reinterpret_cast<const float *>(baseGeneric + (sS - base) + (step % CS4_STAGES) * STAGE + QTILE);
        // Some key of this block lies ahead of some query of the tile: check each pair (every = 1 here).
        const bool diagonal = k0 + 127 > nC + i0;
        // Four independent sums per key (the exp2 results of alternate columns), folded at the end of the step.
        float part[2][4];
#pragma unroll
        for (int hr = 0; hr < 2; hr++) part[hr][0] = part[hr][1] = part[hr][2] = part[hr][3] = 0.f;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const int col = j * 8 + tq * 2;
            const float2 ac = *reinterpret_cast<const float2 *>(a + col);
            float2 an = make_float2(0.f, 0.f);
            if constexpr (!CACHED_ONLY) an = *reinterpret_cast<const float2 *>(a + CS4_BQ + col);
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int hr = e >> 1;
                const float x = acc[j * 4 + e];
                float y;
                if constexpr (CACHED_ONLY) {
                    y = fmaf(x, scaleLog2, -((e & 1) ? ac.y : ac.x));
                } else {
                    y = chunk[hr] ? fmaf(x, scaleLog2, bj[hr] - ((e & 1) ? an.y : an.x))
                                  : fmaf(x, scaleLog2, -((e & 1) ? ac.y : ac.x));
                    if (diagonal && key[hr] > nC + i0 + col + (e & 1)) y = -INFINITY;
                }
                part[hr][(j & 1) * 2 + (e & 1)] += fast_exp2(y);
            }
        }
#pragma unroll
        for (int hr = 0; hr < 2; hr++) sum[hr] += (part[hr][0] + part[hr][1]) + (part[hr][2] + part[hr][3]);
        // One query head done: reduce it into the group's result. Without a branch (selects only): a branch
        // between an MMA's issue and its wait makes ptxas serialise the MMAs.
        const bool headDone = (step + 1) % nTiles == 0;
#pragma unroll
        for (int hr = 0; hr < 2; hr++) {
            float x = sum[hr];
            x += __shfl_xor_sync(0xffffffff, x, 1);
            x += __shfl_xor_sync(0xffffffff, x, 2);
            const float r = meanReduce ? red[hr] + x : fmaxf(red[hr], x);
            red[hr] = headDone ? r : red[hr];
            sum[hr] = headDone ? 0.f : sum[hr];
        }
    };

    float acc[64], cur[64];
#pragma unroll
    for (int i = 0; i < 64; i++) acc[i] = 0.f;
    // (total >= 1: every block holds a key that some query sees.)
    cp_async_wait<2>();
    fence_proxy_async();
    __syncthreads();
    wgmma_fence();
    issue_mma(0, acc);
    // Step s: wait for the MMA of s and copy its result out, wait for copy group s+1, issue the MMA of s+1,
    // copy group s+3, then the exp2 of s (on the copy) while the MMA runs. (A fixed accumulator and a copy rather
    // than two alternating accumulators: with those ptxas serialised the MMAs.)
    for (int s = 0; s < total; s++) {
        wgmma_wait<0>();
        fence_regs<64>(acc);
#pragma unroll
        for (int i = 0; i < 64; i++) cur[i] = acc[i];
        cp_async_wait<1>();
        fence_proxy_async();
        __syncthreads();   // group s+1 landed for everyone; step s-1's reads are done
        if (s + 1 < total) {
            wgmma_fence();
            issue_mma(s + 1, acc);
        }
        if (s + 3 < total) issue(s + 3);
        cp_async_commit();
        process(s, cur);
    }
    wgmma_wait<0>();
    fence_regs<64>(acc);
    cp_async_wait<0>();

    if (tq == 0) {
#pragma unroll
        for (int hr = 0; hr < 2; hr++) {
            if (key[hr] < nKeys) {
                const float x = meanReduce ? red[hr] / group : red[hr];
                const bool skipped = key[hr] >= skipFrom && key[hr] < skipTo;
                out[(long)g * nKeys + key[hr]] = skipped ? 0.f : x * (oneMinusBeta * every);
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(FA3_THREADS, 1)
    attn_colsum4_hd128(const __nv_bfloat16 *q, const __nv_bfloat16 *k, const float *lse, float *out, int nQ,
                       int nKeys, int H, int G, long qTok, long qHead, long kTok, long kHead, float scaleLog2,
                       float log2Beta, float oneMinusBeta, int meanReduce, int queryStep, int skipFrom, int skipTo) {
    if ((int)blockIdx.x * 128 + 128 <= nKeys - nQ)   // all cached keys
        colsum4<true>(q, k, lse, out, nQ, nKeys, H, G, qTok, qHead, kTok, kHead, scaleLog2, log2Beta, oneMinusBeta,
                      meanReduce, queryStep, skipFrom, skipTo);
    else
        colsum4<false>(q, k, lse, out, nQ, nKeys, H, G, qTok, qHead, kTok, kHead, scaleLog2, log2Beta, oneMinusBeta,
                       meanReduce, queryStep, skipFrom, skipTo);
}
