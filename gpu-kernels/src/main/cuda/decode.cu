// Kernels of the device-resident forward pass over the device KV cache (DeviceKvCache). Everything a step's
// launches need that changes from token to token (rows held, positions, the token id) is read from device
// memory, never passed as an argument, so a decode step can be captured once as a CUDA graph and replayed.
//
// The step block (int[4], one per cache): [0] rows the cache holds before the chunk, [1] rotary position of
// the chunk's first token, [2] document index of the chunk's first token, [3] the token id (decoding).
// Cache layout of one layer (see cascade_cache.cu): keys, values bf16 [G][Z][D] un-rotated; pos int [G][Z];
// ring int [G][2C+1]; rows in attention order: sinks, then cascade C-1 .. 0, each ring oldest first.
#include "dequant.cuh"

#define STEP_ROWS 0
#define STEP_POS 1
#define STEP_SEEN 2
#define STEP_TOKEN 3

// ---- rotary angles ------------------------------------------------------------------------------------
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

__device__ __forceinline__ void rope_angle(int position, int i, const float* freqs, int pairs, const float* cosT,
                                           const float* sinT, int tablePositions, float& c, float& s) {
    if (position < tablePositions) {
        c = cosT[(long)position * pairs + i];
        s = sinT[(long)position * pairs + i];
    } else {
        double angle = (double)position * (double)freqs[i];
        c = (float)cos(angle);
        s = (float)sin(angle);
    }
}

// ---- decode matrix–vector products (one token) ----------------------------------------------------------
// out[r] = (accumulate ? out[r] : 0) + inv·Σ_c w[r, c]·x[c]·g[c], where g is the RMSNorm weight and inv the
// RMSNorm factor of x when normW is given (the norm fused into the product), else g = 1, inv = 1. One warp per
// two rows (each x load serves both); four units per row decoded before use, so 8 loads are in flight per lane.
// With SWIGLU, rows is the FFN width of a stacked [gate; up] matrix: the warp computes gate row r and up row
// rows + r and writes silu(gate)·up. grid ceil(rows / (8·rowsPerWarp)), block 256.
#define DMV_WARPS 8

__device__ __forceinline__ float dot8g(const float* w, const float* x, const float* g) {
    const float4* xp = reinterpret_cast<const float4*>(x);
    float4 a = xp[0], b = xp[1];
    if (g != nullptr) {
        const float4* gp = reinterpret_cast<const float4*>(g);
        float4 ga = gp[0], gb = gp[1];
        a.x *= ga.x; a.y *= ga.y; a.z *= ga.z; a.w *= ga.w;
        b.x *= gb.x; b.y *= gb.y; b.z *= gb.z; b.w *= gb.w;
    }
    return w[0] * a.x + w[1] * a.y + w[2] * a.z + w[3] * a.w + w[4] * b.x + w[5] * b.y + w[6] * b.z + w[7] * b.w;
}

__device__ __forceinline__ float rms_inverse(const float* x, int cols, float eps, int lane) {
    float ss = 0.f;
    for (int i = 4 * lane; i < cols; i += 128) {
        float4 v = *reinterpret_cast<const float4*>(x + i);
        ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
    ss = warp_sum(ss);
    return (float)(1.0 / sqrt((double)(ss / cols) + (double)eps));
}

template <int TYPE, bool SWIGLU, int PER_WARP>
__device__ void dmv_rows(const uint8_t* w, long rowBytes, int rows, int cols, const float* x, const float* normW,
                         float eps, float* out, int accumulate) {
    pdl_trigger();
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int first = (blockIdx.x * DMV_WARPS + warp) * (SWIGLU ? 1 : PER_WARP);
    if (first >= rows) return;
    const int second = SWIGLU ? rows + first : first + 1;
    const bool two = SWIGLU || (PER_WARP == 2 && second < rows);
    const uint8_t* ra = w + (long)first * rowBytes;
    const uint8_t* rb = w + (long)(two ? second : first) * rowBytes;
    const int units = cols / 8;
    const bool B = SWIGLU || PER_WARP == 2;   // a second row at all (compile time)
    // The weights never change: asked for before the wait (x and out belong to the predecessors).
    prefetch_l2(ra, rowBytes, lane);
    if (two) prefetch_l2(rb, rowBytes, lane);
    pdl_wait();
    float accA = 0.f, accB = 0.f;
    int u = lane;
    // Q8_0: the unit's scale applied once to its 8-value partial sum (one multiply per value fewer; the products
    // are instruction-bound), which also gives four independent FMA chains instead of one.
    constexpr bool SCALED = TYPE == T_Q8_0;
    for (; u + 96 < units; u += 128) {
        float wa[4][8], wb[4][8], da[4], db[4];
#pragma unroll
        for (int k = 0; k < 4; k++) {
            if constexpr (SCALED) {
                da[k] = Quant<T_Q8_0>::quants(ra, u + 32 * k, wa[k]);
                if (B) db[k] = Quant<T_Q8_0>::quants(rb, u + 32 * k, wb[k]);
            } else {
                Quant<TYPE>::unit(ra, u + 32 * k, wa[k]);
                if (B) Quant<TYPE>::unit(rb, u + 32 * k, wb[k]);
            }
        }
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const int c = 8 * (u + 32 * k);
            const float4* xp = reinterpret_cast<const float4*>(x + c);
            float xv[8];
            float4 a = xp[0], b = xp[1];
            xv[0] = a.x; xv[1] = a.y; xv[2] = a.z; xv[3] = a.w; xv[4] = b.x; xv[5] = b.y; xv[6] = b.z; xv[7] = b.w;
            if (normW != nullptr) {
                const float4* gp = reinterpret_cast<const float4*>(normW + c);
                float4 ga = gp[0], gb = gp[1];
                xv[0] *= ga.x; xv[1] *= ga.y; xv[2] *= ga.z; xv[3] *= ga.w;
                xv[4] *= gb.x; xv[5] *= gb.y; xv[6] *= gb.z; xv[7] *= gb.w;
            }
            if constexpr (SCALED) {
                float pa = 0.f, pb = 0.f;
#pragma unroll
                for (int e = 0; e < 8; e++) {
                    pa += wa[k][e] * xv[e];
                    if (B) pb += wb[k][e] * xv[e];
                }
                accA += da[k] * pa;
                if (B) accB += db[k] * pb;
            } else {
#pragma unroll
                for (int e = 0; e < 8; e++) {
                    accA += wa[k][e] * xv[e];
                    if (B) accB += wb[k][e] * xv[e];
                }
            }
        }
    }
    for (; u < units; u += 32) {
        float wa[8], wb[8];
        Quant<TYPE>::unit(ra, u, wa);
        const float* g = normW != nullptr ? normW + 8 * u : nullptr;
        accA += dot8g(wa, x + 8 * u, g);
        if (B) {
            Quant<TYPE>::unit(rb, u, wb);
            accB += dot8g(wb, x + 8 * u, g);
        }
    }
    float inv = normW != nullptr ? rms_inverse(x, cols, eps, lane) : 1.f;
    float sa = warp_sum(accA) * inv, sb = B ? warp_sum(accB) * inv : 0.f;
    if (lane != 0) return;
    if (SWIGLU) {
        out[first] = sa / (1.f + expf(-sa)) * sb;
    } else {
        out[first] = accumulate ? out[first] + sa : sa;
        if (two) out[second] = accumulate ? out[second] + sb : sb;
    }
}

// dmv_* take two rows per warp (large matrices: each x load serves both), dmv1_* one (small ones: more blocks).
#define DMV(NAME, T)                                                                                               \
    extern "C" __global__ void __launch_bounds__(256) dmv_##NAME(const uint8_t* w, long rowBytes, int rows,         \
            int cols, const float* x, const float* normW, float eps, float* out, int accumulate) {                  \
        dmv_rows<T, false, 2>(w, rowBytes, rows, cols, x, normW, eps, out, accumulate);                            \
    }                                                                                                              \
    extern "C" __global__ void __launch_bounds__(256) dmv1_##NAME(const uint8_t* w, long rowBytes, int rows,        \
            int cols, const float* x, const float* normW, float eps, float* out, int accumulate) {                  \
        dmv_rows<T, false, 1>(w, rowBytes, rows, cols, x, normW, eps, out, accumulate);                            \
    }                                                                                                              \
    extern "C" __global__ void __launch_bounds__(256) dmv_swiglu_##NAME(const uint8_t* w, long rowBytes, int ffn,  \
            int cols, const float* x, const float* normW, float eps, float* out) {                                 \
        dmv_rows<T, true, 1>(w, rowBytes, ffn, cols, x, normW, eps, out, 0);                                       \
    }

DMV(f32, T_F32)
DMV(f16, T_F16)
DMV(bf16, T_BF16)
DMV(q8_0, T_Q8_0)
DMV(q4_0, T_Q4_0)
DMV(q4_k, T_Q4_K)
DMV(q6_k, T_Q6_K)

// ---- Q8_0 decode products with int8 activations (dp4a) ----------------------------------------------------
// The float kernels above are instruction-bound on Q8_0 (per 8 weights: 8 int8→float conversions and 8 FMAs).
// Here each block first rounds its input y (x, or x·g with the norm fused) to int8 in blocks of 32, as llama.cpp's
// MMVQ does: scale d = amax/127, q = rint(y·(127/amax)) (0 for an all-zero block), into shared memory; then 8
// weights cost one 8-byte load, two dp4a and one FMA of the integer sum by (weight scale · activation scale).
// With the norm fused, the RMS factor is left out of y (it does not change the rounding, only scales every block)
// and applied to the final sum. Error against float activations: |Σ w·(y − d·q)| ≤ Σ_b d_b/2 · Σ_{i∈b} |w_i| per
// row (times the RMS factor): CudaKernelsTest checks the kernel against float64 on the rounded activations (exact
// up to float32 order) and against this bound on the unrounded ones. Dynamic shared memory: cols int8 + cols/32
// floats (CudaKernels falls back to the float kernels when that passes 48 KiB). grid and block as dmv_rows.
__device__ __forceinline__ int8_t q8_round(float v, float id) {
    return (int8_t)__float2int_rn(v * id);
}

template <bool SWIGLU, int PER_WARP>
__device__ void dmv_q8_rows(const uint8_t* w, long rowBytes, int rows, int cols, const float* x, const float* normW,
                            float eps, float* out, int accumulate) {
    extern __shared__ __align__(16) unsigned char dmvShared[];
    __shared__ float scratch[32];
    int8_t* xq = reinterpret_cast<int8_t*>(dmvShared);
    float* xd = reinterpret_cast<float*>(dmvShared + cols);   // cols is a multiple of 32
    const int units = cols / 8;
    pdl_trigger();
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int first = (blockIdx.x * DMV_WARPS + warp) * (SWIGLU ? 1 : PER_WARP);
    const int second = SWIGLU ? rows + first : first + 1;
    const bool two = first < rows && (SWIGLU || (PER_WARP == 2 && second < rows));
    const uint8_t* ra = w + (long)first * rowBytes;
    const uint8_t* rb = w + (long)(two ? second : first) * rowBytes;
    if (first < rows) prefetch_l2(ra, rowBytes, lane);   // the weights never change: asked for before the wait
    if (two) prefetch_l2(rb, rowBytes, lane);
    pdl_wait();
    // 1. y rounded to int8 blocks: thread t takes unit u (8 values); four consecutive threads hold one block of 32
    // (units and blockDim are multiples of 4, so a block never straddles two passes).
    float ss = 0.f;
    for (int base = 0; base < units; base += blockDim.x) {
        const int u = base + threadIdx.x;
        const bool ok = u < units;
        float v[8];
        float amax = 0.f;
        if (ok) {
            const float4* xp = reinterpret_cast<const float4*>(x + 8 * u);
            float4 a = xp[0], b = xp[1];
            v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
            if (normW != nullptr) {
#pragma unroll
                for (int e = 0; e < 8; e++) ss += v[e] * v[e];
                const float4* gp = reinterpret_cast<const float4*>(normW + 8 * u);
                float4 ga = gp[0], gb = gp[1];
                v[0] *= ga.x; v[1] *= ga.y; v[2] *= ga.z; v[3] *= ga.w;
                v[4] *= gb.x; v[5] *= gb.y; v[6] *= gb.z; v[7] *= gb.w;
            }
#pragma unroll
            for (int e = 0; e < 8; e++) amax = fmaxf(amax, fabsf(v[e]));
        }
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 1));
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 2));
        if (ok) {
            const float id = amax > 0.f ? 127.f / amax : 0.f;
            unsigned lo = 0, hi = 0;
#pragma unroll
            for (int e = 0; e < 4; e++) {
                lo |= (unsigned)(uint8_t)q8_round(v[e], id) << (8 * e);
                hi |= (unsigned)(uint8_t)q8_round(v[4 + e], id) << (8 * e);
            }
            *reinterpret_cast<uint2*>(xq + 8 * u) = make_uint2(lo, hi);
            if ((u & 3) == 0) xd[u >> 2] = amax / 127.f;
        }
    }
    float inv = 1.f;
    if (normW != nullptr) {
        ss = block_sum(ss, scratch);
        inv = (float)(1.0 / sqrt((double)(ss / cols) + (double)eps));
    }
    __syncthreads();

    // 2. Rows, as dmv_rows: one or two per warp, four units per lane per pass.
    if (first >= rows) return;
    const bool B = SWIGLU || PER_WARP == 2;
    float accA = 0.f, accB = 0.f;
    int u = lane;
    for (; u + 96 < units; u += 128) {
        uint2 qa[4], qb[4];
        float da[4], db[4];
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const int uk = u + 32 * k;
            const uint8_t* ga = ra + (uk >> 4) * 136;
            qa[k] = *reinterpret_cast<const uint2*>(ga + 8 + 8 * (uk & 15));
            da[k] = __half2float(*reinterpret_cast<const __half*>(ga + 2 * ((uk >> 2) & 3)));
            if (B) {
                const uint8_t* gb = rb + (uk >> 4) * 136;
                qb[k] = *reinterpret_cast<const uint2*>(gb + 8 + 8 * (uk & 15));
                db[k] = __half2float(*reinterpret_cast<const __half*>(gb + 2 * ((uk >> 2) & 3)));
            }
        }
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const int uk = u + 32 * k;
            const uint2 y = *reinterpret_cast<const uint2*>(xq + 8 * uk);
            const float dy = xd[uk >> 2];
            accA += (float)__dp4a((int)qa[k].y, (int)y.y, __dp4a((int)qa[k].x, (int)y.x, 0)) * (da[k] * dy);
            if (B) accB += (float)__dp4a((int)qb[k].y, (int)y.y, __dp4a((int)qb[k].x, (int)y.x, 0)) * (db[k] * dy);
        }
    }
    for (; u < units; u += 32) {
        const uint2 y = *reinterpret_cast<const uint2*>(xq + 8 * u);
        const float dy = xd[u >> 2];
        const uint8_t* ga = ra + (u >> 4) * 136;
        const uint2 q = *reinterpret_cast<const uint2*>(ga + 8 + 8 * (u & 15));
        const float d = __half2float(*reinterpret_cast<const __half*>(ga + 2 * ((u >> 2) & 3)));
        accA += (float)__dp4a((int)q.y, (int)y.y, __dp4a((int)q.x, (int)y.x, 0)) * (d * dy);
        if (B) {
            const uint8_t* gb = rb + (u >> 4) * 136;
            const uint2 qv = *reinterpret_cast<const uint2*>(gb + 8 + 8 * (u & 15));
            const float e = __half2float(*reinterpret_cast<const __half*>(gb + 2 * ((u >> 2) & 3)));
            accB += (float)__dp4a((int)qv.y, (int)y.y, __dp4a((int)qv.x, (int)y.x, 0)) * (e * dy);
        }
    }
    float sa = warp_sum(accA) * inv, sb = B ? warp_sum(accB) * inv : 0.f;
    if (lane != 0) return;
    if (SWIGLU) {
        out[first] = sa / (1.f + expf(-sa)) * sb;
    } else {
        out[first] = accumulate ? out[first] + sa : sa;
        if (two) out[second] = accumulate ? out[second] + sb : sb;
    }
}

extern "C" __global__ void __launch_bounds__(256) dmv_q8i(const uint8_t* w, long rowBytes, int rows, int cols,
        const float* x, const float* normW, float eps, float* out, int accumulate) {
    dmv_q8_rows<false, 2>(w, rowBytes, rows, cols, x, normW, eps, out, accumulate);
}
extern "C" __global__ void __launch_bounds__(256) dmv1_q8i(const uint8_t* w, long rowBytes, int rows, int cols,
        const float* x, const float* normW, float eps, float* out, int accumulate) {
    dmv_q8_rows<false, 1>(w, rowBytes, rows, cols, x, normW, eps, out, accumulate);
}
extern "C" __global__ void __launch_bounds__(256) dmv_swiglu_q8i(const uint8_t* w, long rowBytes, int ffn, int cols,
        const float* x, const float* normW, float eps, float* out) {
    dmv_q8_rows<true, 1>(w, rowBytes, ffn, cols, x, normW, eps, out, 0);
}

// ---- greedy decoding: the argmax of the logits on the device ----------------------------------------------
// Order-preserving key of a float: a larger value has a larger key; −0 counts as +0 and NaN as below everything
// (the lowest index among equal values, as Sampler.argmax; unlike it, a NaN logit never wins here, also at index 0).
__device__ __forceinline__ unsigned int float_order_key(float f) {
    if (f != f) return 0u;
    unsigned int u = __float_as_uint(f == 0.f ? 0.f : f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// token = the lowest index of the largest of x[0, n). Each block reduces its slice to one 64-bit key (value's key,
// then the complement of the index: equal values → the lowest index wins) and folds it into *best by atomicMax;
// the last block to finish (ticket from *done) writes the token to out[0] and to the step block's token slot (so
// the next decode step embeds it without a copy from the host), then clears *best and *done for the next launch.
// *best and *done start at 0. grid ≤ 1024, block 256.
extern "C" __global__ void argmax_token(const float* x, int n, unsigned long long* best, unsigned int* done, int* out,
                                        int* step) {
    __shared__ unsigned long long warpBest[8];
    __shared__ bool last;
    pdl_trigger();
    pdl_wait();
    unsigned long long mine = 0ull;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        unsigned long long k = ((unsigned long long)float_order_key(x[i]) << 32) | (unsigned int)~i;
        mine = k > mine ? k : mine;
    }
    for (int o = 16; o > 0; o >>= 1) {
        unsigned long long other = __shfl_xor_sync(0xffffffffu, mine, o);
        mine = other > mine ? other : mine;
    }
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) warpBest[warp] = mine;
    __syncthreads();
    if (threadIdx.x == 0) {
        unsigned long long b = 0ull;
        for (int k = 0; k < (int)(blockDim.x >> 5); k++) b = warpBest[k] > b ? warpBest[k] : b;
        atomicMax(best, b);
        __threadfence();
        last = atomicAdd(done, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    if (!last || threadIdx.x != 0) return;
    __threadfence();
    const unsigned long long b = atomicMax(best, 0ull);
    const int token = (int)~(unsigned int)(b & 0xffffffffull);
    out[0] = token;
    if (step != nullptr) step[STEP_TOKEN] = token;
    *best = 0ull;
    *done = 0u;
}

// ---- q, k, v of a chunk -------------------------------------------------------------------------------
// From fused q|k|v rows (n × (H·D + 2·G·D) f32; bias added when given): query heads either rotated at
// position step[POS] + t and written f32 [t][h][D] (qF), or un-rotated bf16 [t][h][D] (qB) for the flash
// path, which rotates them itself; keys and values un-rotated, rounded to bf16, [g][t][D] (the rows the
// cache stores; attention rotates keys when it reads them). grid (n, H + G), block 64; D ≤ 256.
extern "C" __global__ void qkv_split(const float* qkv, const float* bias, int H, int G, int D, int n,
                                     const int* step, const float* freqs, int pairs, int neox, const float* cosT,
                                     const float* sinT, int tablePositions, float* qF, __nv_bfloat16* qB,
                                     __nv_bfloat16* kRaw, __nv_bfloat16* vRaw) {
    __shared__ float buf[256];
    const int t = blockIdx.x, slot = blockIdx.y;
    const int qDim = H * D, kvDim = G * D;
    const float* src = qkv + (long)t * (qDim + 2 * kvDim);
    if (slot < H) {
        for (int d = threadIdx.x; d < D; d += blockDim.x) {
            float v = src[slot * D + d] + (bias != nullptr ? bias[slot * D + d] : 0.f);
            buf[d] = v;
            if (qB != nullptr) qB[((long)t * H + slot) * D + d] = __float2bfloat16_rn(v);
        }
        if (qF == nullptr) return;
        __syncthreads();
        const int position = step[STEP_POS] + t;
        const int stride = neox ? 1 : 2, partner = neox ? pairs : 1;
        for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
            float c, s;
            rope_angle(position, i, freqs, pairs, cosT, sinT, tablePositions, c, s);
            int a = i * stride;
            float x0 = buf[a], x1 = buf[a + partner];
            buf[a] = x0 * c - x1 * s;
            buf[a + partner] = x0 * s + x1 * c;
        }
        __syncthreads();
        for (int d = threadIdx.x; d < D; d += blockDim.x) qF[((long)t * H + slot) * D + d] = buf[d];
        return;
    }
    const int g = slot - H;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        int kc = qDim + g * D + d, vc = qDim + kvDim + g * D + d;
        float k = src[kc] + (bias != nullptr ? bias[kc] : 0.f);
        float v = src[vc] + (bias != nullptr ? bias[vc] : 0.f);
        kRaw[((long)g * n + t) * D + d] = __float2bfloat16_rn(k);
        vRaw[((long)g * n + t) * D + d] = __float2bfloat16_rn(v);
    }
}

// ---- attention over the device cache (decoding, and chunks of head dimensions the flash kernel lacks) --
// Slot of the cached row of rank r (attention order) from one KV head's ring (start[C], stored[C], sinks).
__device__ __forceinline__ int rank_slot(int r, const int* ring, int S, int C, int W) {
    int held = ring[2 * C];
    if (r < held) return r;
    r -= held;
    for (int c = C - 1; c >= 0; c--) {
        int st = ring[C + c];
        if (r < st) {
            int i = ring[c] + r;
            return S + c * W + (i >= W ? i - W : i);
        }
        r -= st;
    }
    return 0;   // not reached for r < rows
}

#define AK_WARPS 4
#define AK_GMAX 8     // query heads per KV head, at most
#define AK_KB 4       // keys a warp loads at once

// Split-K attention of query i (rotated, f32 [i][h][D]) for the query heads of KV head g, over its visible keys
// (the rows held, then chunk keys 0..i), keys [s·per, (s+1)·per) of them for split s. Keys are rotated as they
// are read: at their rank (cache positions) or their document position (original positions); the chunk's at
// step[POS] + j. Pair p of a head is elements (2p, 2p+1), or (p, p + D/2) with neox; lane l owns pairs l, l+32…
// Writes each query head's partial (output·l, max m, sum l): partial [g][i][split][hh][D + 2]; and, when raw is
// given, the scaled scores raw[(h·nQ + i)·rawStride + j]. grid (splits, G, nQ), block 128.
//
// Instantiated per GMAX (query heads per KV head: 1, 2, 4, 8; a group of 3 runs GMAX 4 with one head idle) and
// PAIRS (rotary pairs per lane: D/2 ≤ 32 · PAIRS), so the per-head and per-pair loops unroll to what the model
// needs: one generic kernel unrolled to 8 heads × 4 pairs was 9,500 lines of PTX and 254 registers.
template <int GMAX, int PAIRS>
__device__ __forceinline__ void attn_kv_partial_body(
        const float* q, int H, int G, int D, int nQ, const __nv_bfloat16* keys, const __nv_bfloat16* values,
        const int* pos, const int* ring, int S, int C, int W, const __nv_bfloat16* kRaw, const __nv_bfloat16* vRaw,
        const int* step, int originalPositions, const float* freqs, int neox, const float* cosT, const float* sinT,
        int tablePositions, float scale, int splits, float* raw, long rawStride, float* partial) {
    __shared__ float wm[AK_WARPS][GMAX], wl[AK_WARPS][GMAX];
    __shared__ float wo[AK_WARPS][GMAX][64 * PAIRS];
    const int s = blockIdx.x, g = blockIdx.y, i = blockIdx.z;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int group = H / G, half = D / 2;
    const long Z = S + (long)C * W;
    const int rows = step[STEP_ROWS], pos0 = step[STEP_POS];
    const int visible = rows + i + 1;
    const int per = (visible + splits - 1) / splits;
    const int k0 = s * per, k1 = min(visible, k0 + per);
    const int* rg = ring + g * (2 * C + 1);

    float qa[GMAX][PAIRS], qb[GMAX][PAIRS];
    float oa[GMAX][PAIRS], ob[GMAX][PAIRS], m[GMAX], l[GMAX];
#pragma unroll
    for (int hh = 0; hh < GMAX; hh++) {
        m[hh] = -INFINITY;
        l[hh] = 0.f;
#pragma unroll
        for (int k = 0; k < PAIRS; k++) {
            int p = lane + 32 * k;
            bool own = hh < group && p < half;
            const float* qh = q + ((long)i * H + g * group + hh) * D;
            qa[hh][k] = own ? qh[neox ? p : 2 * p] : 0.f;
            qb[hh][k] = own ? qh[neox ? p + half : 2 * p + 1] : 0.f;
            oa[hh][k] = 0.f;
            ob[hh][k] = 0.f;
        }
    }
    // AK_KB keys per warp at a time: their loads are issued together (a warp's keys are otherwise a chain of
    // dependent memory latencies).
    for (int j0 = k0 + warp * AK_KB; j0 < k1; j0 += AK_WARPS * AK_KB) {
        float ka[AK_KB][PAIRS], kb[AK_KB][PAIRS], va[AK_KB][PAIRS], vb[AK_KB][PAIRS];
#pragma unroll
        for (int b = 0; b < AK_KB; b++) {
            const int j = j0 + b;
            const bool live = j < k1;
            const __nv_bfloat16 *kp = kRaw, *vp = vRaw;
            int position = 0;
            if (live && j < rows) {
                int slot = rank_slot(j, rg, S, C, W);
                kp = keys + ((long)g * Z + slot) * D;
                vp = values + ((long)g * Z + slot) * D;
                position = originalPositions ? pos[(long)g * Z + slot] : j;
            } else if (live) {
                int jj = j - rows;
                kp = kRaw + ((long)g * nQ + jj) * D;
                vp = vRaw + ((long)g * nQ + jj) * D;
                position = pos0 + jj;
            }
#pragma unroll
            for (int k = 0; k < PAIRS; k++) {
                int p = lane + 32 * k;
                ka[b][k] = kb[b][k] = va[b][k] = vb[b][k] = 0.f;
                if (live && p < half) {
                    int ea = neox ? p : 2 * p, eb = neox ? p + half : 2 * p + 1;
                    float c, sn;
                    rope_angle(position, p, freqs, half, cosT, sinT, tablePositions, c, sn);
                    float x0 = __bfloat162float(kp[ea]), x1 = __bfloat162float(kp[eb]);
                    ka[b][k] = x0 * c - x1 * sn;
                    kb[b][k] = x0 * sn + x1 * c;
                    va[b][k] = __bfloat162float(vp[ea]);
                    vb[b][k] = __bfloat162float(vp[eb]);
                }
            }
        }
#pragma unroll
        for (int b = 0; b < AK_KB; b++) {
            const int j = j0 + b;
            if (j >= k1) break;
#pragma unroll
            for (int hh = 0; hh < GMAX; hh++) {
                if (hh >= group) continue;
                float d = 0.f;
#pragma unroll
                for (int k = 0; k < PAIRS; k++) d += qa[hh][k] * ka[b][k] + qb[hh][k] * kb[b][k];
                float x = warp_sum(d) * scale;
                if (raw != nullptr && lane == 0) raw[((long)(g * group + hh) * nQ + i) * rawStride + j] = x;
                float mNew = fmaxf(m[hh], x);
                float corr = expf(m[hh] - mNew), e = expf(x - mNew);
                l[hh] = l[hh] * corr + e;
                m[hh] = mNew;
#pragma unroll
                for (int k = 0; k < PAIRS; k++) {
                    oa[hh][k] = oa[hh][k] * corr + e * va[b][k];
                    ob[hh][k] = ob[hh][k] * corr + e * vb[b][k];
                }
            }
        }
    }
    // The block's warps combined: each warp's state to shared memory, then warp 0 merges per head.
#pragma unroll
    for (int hh = 0; hh < GMAX; hh++) {
        if (hh >= group) continue;
        if (lane == 0) {
            wm[warp][hh] = m[hh];
            wl[warp][hh] = l[hh];
        }
#pragma unroll
        for (int k = 0; k < PAIRS; k++) {
            int p = lane + 32 * k;
            if (p < half) {
                wo[warp][hh][neox ? p : 2 * p] = oa[hh][k];
                wo[warp][hh][neox ? p + half : 2 * p + 1] = ob[hh][k];
            }
        }
    }
    __syncthreads();
    for (int hh = warp; hh < group; hh += AK_WARPS) {
        float M = -INFINITY;
        for (int w = 0; w < AK_WARPS; w++) M = fmaxf(M, wm[w][hh]);
        float* out = partial + ((((long)g * nQ + i) * splits + s) * group + hh) * (D + 2);
        float L = 0.f;
        for (int w = 0; w < AK_WARPS; w++) L += wm[w][hh] == -INFINITY ? 0.f : wl[w][hh] * expf(wm[w][hh] - M);
        for (int d = lane; d < D; d += 32) {
            float o = 0.f;
            for (int w = 0; w < AK_WARPS; w++) o += wm[w][hh] == -INFINITY ? 0.f : wo[w][hh][d] * expf(wm[w][hh] - M);
            out[d] = o;
        }
        if (lane == 0) {
            out[D] = M;
            out[D + 1] = L;
        }
    }
}

// attn_kv_partial_g<GMAX>_p<PAIRS>: the launcher (SplitKAttention) picks GMAX = the next of 1, 2, 4, 8 at or
// above the group, PAIRS = the next of 1, 2, 4 at or above D/64.
#define ATTN_KV_PARTIAL(GM, PA)                                                                                    \
    extern "C" __global__ void __launch_bounds__(128) attn_kv_partial_g##GM##_p##PA(                               \
            const float* q, int H, int G, int D, int nQ, const __nv_bfloat16* keys, const __nv_bfloat16* values,   \
            const int* pos, const int* ring, int S, int C, int W, const __nv_bfloat16* kRaw,                      \
            const __nv_bfloat16* vRaw, const int* step, int originalPositions, const float* freqs, int neox,       \
            const float* cosT, const float* sinT, int tablePositions, float scale, int splits, float* raw,         \
            long rawStride, float* partial) {                                                                      \
        attn_kv_partial_body<GM, PA>(q, H, G, D, nQ, keys, values, pos, ring, S, C, W, kRaw, vRaw, step,           \
                originalPositions, freqs, neox, cosT, sinT, tablePositions, scale, splits, raw, rawStride, partial); \
    }
#define ATTN_KV_PARTIAL_PAIRS(GM) ATTN_KV_PARTIAL(GM, 1) ATTN_KV_PARTIAL(GM, 2) ATTN_KV_PARTIAL(GM, 4)
ATTN_KV_PARTIAL_PAIRS(1)
ATTN_KV_PARTIAL_PAIRS(2)
ATTN_KV_PARTIAL_PAIRS(4)
ATTN_KV_PARTIAL_PAIRS(8)

// ---- attention of one decoded token over the cache: one kernel --------------------------------------------
// Decoding's attention, the q/k/v split folded in: the query heads of KV head g are read straight from the QKV
// product's row (bias added, rotated at step[POS]), the token's own key and value too (bias added, rounded to bf16
// as the cache will store them; block 0 of each g writes those rows to kRaw/vRaw for the cache update). Block
// (s, g) takes ranks [s·per, (s+1)·per) of the rows + 1 visible keys; each warp loads KB keys at once (K, V and
// their rotary angles issued together, the KV head's ring read once into shared memory instead of per key), keeps
// an online softmax per query head, the block's warps merge in shared memory, and each block writes its
// partial (output·sum, max, sum). The last block of g to finish (a ticket from counters[g], which it resets)
// merges the splits into out [h][D] f32, and stats [h][2] = (max, sum) when given. raw (when given) gets the
// scaled scores raw[h·rawStride + j], for the §4 score sums (attn_kv_score_sums with one query).
// The split-K pair above (partial, then combine) does the same in two launches plus the qkv_split launch, reading
// the ring per key and four keys per warp at a time: ~25 µs per layer on an H200 at 1–2 thousand keys.
// grid (splits, G), block 32·WARPS; splits ≤ AK_MAX_SPLITS; C ≤ AD_MAX_CASCADES.
#define AD_MAX_CASCADES 32
#define AK_MAX_SPLITS 128
template <int GMAX, int PAIRS, int WARPS>
__device__ __forceinline__ void attn_decode_body(
        const float* qkv, const float* bias, int H, int G, int D, const __nv_bfloat16* keys,
        const __nv_bfloat16* values, const int* pos, const int* ring, int S, int C, int W, __nv_bfloat16* kRaw,
        __nv_bfloat16* vRaw, const int* step, int originalPositions, const float* freqs, int neox, const float* cosT,
        const float* sinT, int tablePositions, float scale, int splits, float* raw, long rawStride, float* partial,
        unsigned int* counters, float* out, float* stats) {
    constexpr int KB = 8 / PAIRS;   // keys per warp in flight: 8 at head dimension ≤ 64
    __shared__ int ringS[2 * AD_MAX_CASCADES + 1];
    __shared__ float wm[WARPS][GMAX], wl[WARPS][GMAX];
    __shared__ float wo[WARPS][GMAX][64 * PAIRS];
    __shared__ float weight[GMAX][AK_MAX_SPLITS];
    __shared__ float total[GMAX];
    __shared__ bool last;
    const int s = blockIdx.x, g = blockIdx.y;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int group = H / G, half = D / 2;
    const long Z = S + (long)C * W;
    const int qDim = H * D, kvDim = G * D;
    pdl_trigger();
    pdl_wait();
    for (int t = threadIdx.x; t < 2 * C + 1; t += blockDim.x) ringS[t] = ring[g * (2 * C + 1) + t];
    const int rows = step[STEP_ROWS], pos0 = step[STEP_POS];
    if (s == 0) {   // the token's own rows, for the cache update
        for (int d = threadIdx.x; d < D; d += blockDim.x) {
            int kc = qDim + g * D + d, vc = qDim + kvDim + g * D + d;
            kRaw[g * D + d] = __float2bfloat16_rn(qkv[kc] + (bias != nullptr ? bias[kc] : 0.f));
            vRaw[g * D + d] = __float2bfloat16_rn(qkv[vc] + (bias != nullptr ? bias[vc] : 0.f));
        }
    }
    __syncthreads();

    const int stride = neox ? 1 : 2, partner = neox ? half : 1;
    float qa[GMAX][PAIRS], qb[GMAX][PAIRS];
    float oa[GMAX][PAIRS], ob[GMAX][PAIRS], m[GMAX], l[GMAX];
#pragma unroll
    for (int k = 0; k < PAIRS; k++) {
        const int p = lane + 32 * k;
        float c = 1.f, sn = 0.f;
        if (p < half) rope_angle(pos0, p, freqs, half, cosT, sinT, tablePositions, c, sn);
#pragma unroll
        for (int hh = 0; hh < GMAX; hh++) {
            float x0 = 0.f, x1 = 0.f;
            if (hh < group && p < half) {
                const int e0 = (g * group + hh) * D + p * stride, e1 = e0 + partner;
                x0 = qkv[e0] + (bias != nullptr ? bias[e0] : 0.f);
                x1 = qkv[e1] + (bias != nullptr ? bias[e1] : 0.f);
            }
            qa[hh][k] = x0 * c - x1 * sn;
            qb[hh][k] = x0 * sn + x1 * c;
            oa[hh][k] = 0.f;
            ob[hh][k] = 0.f;
        }
    }
#pragma unroll
    for (int hh = 0; hh < GMAX; hh++) {
        m[hh] = -INFINITY;
        l[hh] = 0.f;
    }

    const int visible = rows + 1;
    const int per = (visible + splits - 1) / splits;
    const int k0 = s * per, k1 = min(visible, k0 + per);
    for (int j0 = k0 + warp * KB; j0 < k1; j0 += WARPS * KB) {
        float ka[KB][PAIRS], kb[KB][PAIRS], va[KB][PAIRS], vb[KB][PAIRS];
#pragma unroll
        for (int b = 0; b < KB; b++) {
            const int j = j0 + b;
            const bool live = j < k1, cached = j < rows;
            const __nv_bfloat16 *kp = keys, *vp = values;
            int position = pos0;
            if (live && cached) {
                const int slot = rank_slot(j, ringS, S, C, W);
                kp = keys + ((long)g * Z + slot) * D;
                vp = values + ((long)g * Z + slot) * D;
                position = originalPositions ? pos[(long)g * Z + slot] : j;
            }
#pragma unroll
            for (int k = 0; k < PAIRS; k++) {
                const int p = lane + 32 * k;
                ka[b][k] = kb[b][k] = va[b][k] = vb[b][k] = 0.f;
                if (live && p < half) {
                    const int e0 = p * stride, e1 = e0 + partner;
                    float x0, x1;
                    if (cached) {
                        x0 = __bfloat162float(kp[e0]);
                        x1 = __bfloat162float(kp[e1]);
                        va[b][k] = __bfloat162float(vp[e0]);
                        vb[b][k] = __bfloat162float(vp[e1]);
                    } else {   // the token itself, rounded as the cache stores it
                        const int kc = qDim + g * D, vc = qDim + kvDim + g * D;
                        x0 = __bfloat162float(__float2bfloat16_rn(qkv[kc + e0] + (bias != nullptr ? bias[kc + e0] : 0.f)));
                        x1 = __bfloat162float(__float2bfloat16_rn(qkv[kc + e1] + (bias != nullptr ? bias[kc + e1] : 0.f)));
                        va[b][k] = __bfloat162float(__float2bfloat16_rn(qkv[vc + e0] + (bias != nullptr ? bias[vc + e0] : 0.f)));
                        vb[b][k] = __bfloat162float(__float2bfloat16_rn(qkv[vc + e1] + (bias != nullptr ? bias[vc + e1] : 0.f)));
                    }
                    float c, sn;
                    rope_angle(position, p, freqs, half, cosT, sinT, tablePositions, c, sn);
                    ka[b][k] = x0 * c - x1 * sn;
                    kb[b][k] = x0 * sn + x1 * c;
                }
            }
        }
#pragma unroll
        for (int hh = 0; hh < GMAX; hh++) {
            if (hh >= group) continue;
            float x[KB];
            float bm = -INFINITY;
#pragma unroll
            for (int b = 0; b < KB; b++) {
                float d = 0.f;
#pragma unroll
                for (int k = 0; k < PAIRS; k++) d += qa[hh][k] * ka[b][k] + qb[hh][k] * kb[b][k];
                x[b] = warp_sum(d) * scale;
                if (j0 + b < k1) {
                    bm = fmaxf(bm, x[b]);
                    if (raw != nullptr && lane == 0) raw[(long)(g * group + hh) * rawStride + j0 + b] = x[b];
                }
            }
            const float mNew = fmaxf(m[hh], bm);
            const float corr = expf(m[hh] - mNew);
            l[hh] *= corr;
#pragma unroll
            for (int k = 0; k < PAIRS; k++) {
                oa[hh][k] *= corr;
                ob[hh][k] *= corr;
            }
#pragma unroll
            for (int b = 0; b < KB; b++) {
                const float e = j0 + b < k1 ? expf(x[b] - mNew) : 0.f;
                l[hh] += e;
#pragma unroll
                for (int k = 0; k < PAIRS; k++) {
                    oa[hh][k] += e * va[b][k];
                    ob[hh][k] += e * vb[b][k];
                }
            }
            m[hh] = mNew;
        }
    }

    // The block's warps merged per head (a warp that saw no key has max −inf and adds nothing), written as this
    // split's partial: partial [g][s][hh][D + 2].
#pragma unroll
    for (int hh = 0; hh < GMAX; hh++) {
        if (hh >= group) continue;
        if (lane == 0) {
            wm[warp][hh] = m[hh];
            wl[warp][hh] = l[hh];
        }
#pragma unroll
        for (int k = 0; k < PAIRS; k++) {
            const int p = lane + 32 * k;
            if (p < half) {
                wo[warp][hh][p * stride] = oa[hh][k];
                wo[warp][hh][p * stride + partner] = ob[hh][k];
            }
        }
    }
    __syncthreads();
    const long step2 = (long)group * (D + 2);
    float* mine = partial + ((long)g * splits + s) * step2;
    for (int k = threadIdx.x; k < group * (D + 1); k += blockDim.x) {
        const int hh = k / (D + 1), d = k % (D + 1);
        float M = -INFINITY;
        for (int w = 0; w < WARPS; w++) M = fmaxf(M, wm[w][hh]);
        if (d == D) {   // (max, sum)
            float L = 0.f;
            for (int w = 0; w < WARPS; w++) L += wm[w][hh] == -INFINITY ? 0.f : wl[w][hh] * expf(wm[w][hh] - M);
            mine[hh * (D + 2) + D] = M;
            mine[hh * (D + 2) + D + 1] = L;
        } else {
            float o = 0.f;
            for (int w = 0; w < WARPS; w++) o += wm[w][hh] == -INFINITY ? 0.f : wo[w][hh][d] * expf(wm[w][hh] - M);
            mine[hh * (D + 2) + d] = o;
        }
    }

    // The last block of g merges every split (their partials read from L2: other blocks wrote them).
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(&counters[g], 1u) == (unsigned int)splits - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();
    const float* base = partial + (long)g * splits * step2;
    for (int k = threadIdx.x; k < group * splits; k += blockDim.x) {
        const int hh = k / splits, sp = k % splits;
        weight[hh][sp] = __ldcg(base + sp * step2 + (long)hh * (D + 2) + D);   // the split's max, for now
    }
    __syncthreads();
    if (threadIdx.x < group) {
        const int hh = threadIdx.x;
        float M = -INFINITY, L = 0.f;
        for (int sp = 0; sp < splits; sp++) M = fmaxf(M, weight[hh][sp]);
        for (int sp = 0; sp < splits; sp++) {
            const float ms = weight[hh][sp];
            const float w = ms == -INFINITY ? 0.f : expf(ms - M);
            L += w * __ldcg(base + sp * step2 + (long)hh * (D + 2) + D + 1);
            weight[hh][sp] = w;
        }
        total[hh] = L;
        if (stats != nullptr) {
            stats[2 * (g * group + hh)] = M;
            stats[2 * (g * group + hh) + 1] = L;
        }
    }
    __syncthreads();
    for (int k = threadIdx.x; k < group * D; k += blockDim.x) {
        const int hh = k / D, d = k % D;
        const float* p = base + (long)hh * (D + 2) + d;
        float o0 = 0.f, o1 = 0.f, o2 = 0.f, o3 = 0.f;
        int sp = 0;
        for (; sp + 3 < splits; sp += 4) {
            o0 += weight[hh][sp] * __ldcg(p + sp * step2);
            o1 += weight[hh][sp + 1] * __ldcg(p + (sp + 1) * step2);
            o2 += weight[hh][sp + 2] * __ldcg(p + (sp + 2) * step2);
            o3 += weight[hh][sp + 3] * __ldcg(p + (sp + 3) * step2);
        }
        for (; sp < splits; sp++) o0 += weight[hh][sp] * __ldcg(p + sp * step2);
        out[(g * group + hh) * D + d] = (o0 + o1 + o2 + o3) / total[hh];
    }
    if (threadIdx.x == 0) counters[g] = 0u;
}

// attn_decode_g<GMAX>_p<PAIRS>: as attn_kv_partial's instances (SplitKAttention.decodeKernel); 8 warps, or 4 where
// GMAX·PAIRS > 8 (registers and shared memory of the per-warp states).
#define ATTN_DECODE(GM, PA)                                                                                        \
    extern "C" __global__ void __launch_bounds__(GM * PA > 8 ? 128 : 256) attn_decode_g##GM##_p##PA(               \
            const float* qkv, const float* bias, int H, int G, int D, const __nv_bfloat16* keys,                   \
            const __nv_bfloat16* values, const int* pos, const int* ring, int S, int C, int W,                    \
            __nv_bfloat16* kRaw, __nv_bfloat16* vRaw, const int* step, int originalPositions, const float* freqs,  \
            int neox, const float* cosT, const float* sinT, int tablePositions, float scale, int splits,          \
            float* raw, long rawStride, float* partial, unsigned int* counters, float* out, float* stats) {        \
        attn_decode_body<GM, PA, (GM * PA > 8 ? 4 : 8)>(qkv, bias, H, G, D, keys, values, pos, ring, S, C, W,      \
                kRaw, vRaw, step, originalPositions, freqs, neox, cosT, sinT, tablePositions, scale, splits, raw,  \
                rawStride, partial, counters, out, stats);                                                         \
    }
#define ATTN_DECODE_PAIRS(GM) ATTN_DECODE(GM, 1) ATTN_DECODE(GM, 2) ATTN_DECODE(GM, 4)
ATTN_DECODE_PAIRS(1)
ATTN_DECODE_PAIRS(2)
ATTN_DECODE_PAIRS(4)
ATTN_DECODE_PAIRS(8)

// Merges the splits of query i for the heads of KV head g: out [i][h][D] f32 (the layout the output product
// reads); stats [h][i][2] = (max, sum) of the whole row, for the score sums. Every split's (max, sum) is loaded at
// once into shared memory and turned into its weight; then each output element sums its splits with four loads
// in flight (the splits were written by the previous kernel: L2 latency, not bandwidth, is the cost).
// grid (G, nQ), block 128; splits ≤ AK_MAX_SPLITS.
extern "C" __global__ void attn_kv_combine(const float* partial, int H, int G, int D, int nQ, int splits, float* out,
                                           float* stats) {
    __shared__ float weight[AK_GMAX][AK_MAX_SPLITS], sum[AK_GMAX][AK_MAX_SPLITS];
    __shared__ float total[AK_GMAX];
    const int g = blockIdx.x, i = blockIdx.y, group = H / G;
    const long step = (long)group * (D + 2);
    const float* base = partial + (((long)g * nQ + i) * splits) * step;
    for (int k = threadIdx.x; k < group * splits; k += blockDim.x) {
        int hh = k / splits, s = k % splits;
        weight[hh][s] = base[s * step + (long)hh * (D + 2) + D];   // the split's max, for now
        sum[hh][s] = base[s * step + (long)hh * (D + 2) + D + 1];
    }
    __syncthreads();
    if (threadIdx.x < group) {
        int hh = threadIdx.x;
        float M = -INFINITY, L = 0.f;
        for (int s = 0; s < splits; s++) M = fmaxf(M, weight[hh][s]);
        for (int s = 0; s < splits; s++) {
            float ms = weight[hh][s];
            float w = ms == -INFINITY ? 0.f : expf(ms - M);
            L += sum[hh][s] * w;
            weight[hh][s] = w;
        }
        total[hh] = L;
        if (stats != nullptr) {
            int h = g * group + hh;
            stats[((long)h * nQ + i) * 2] = M;
            stats[((long)h * nQ + i) * 2 + 1] = L;
        }
    }
    __syncthreads();
    for (int k = threadIdx.x; k < group * D; k += blockDim.x) {
        int hh = k / D, d = k % D;
        const float* p = base + (long)hh * (D + 2) + d;
        float o0 = 0.f, o1 = 0.f, o2 = 0.f, o3 = 0.f;
        int s = 0;
        for (; s + 3 < splits; s += 4) {
            o0 += weight[hh][s] * p[s * step];
            o1 += weight[hh][s + 1] * p[(s + 1) * step];
            o2 += weight[hh][s + 2] * p[(s + 2) * step];
            o3 += weight[hh][s + 3] * p[(s + 3) * step];
        }
        for (; s < splits; s++) o0 += weight[hh][s] * p[s * step];
        out[((long)i * H + g * group + hh) * D + d] = (o0 + o1 + o2 + o3) / total[hh];
    }
}

// The cascade-spec §4 score sums of every visible key j for KV head g: Σ_i w(i, j)·P[h, i, j] with
// w = byQuery[i] for a cached key and byDistance[i − j'] for chunk key j' (i ≥ j'), reduced over the group's
// heads (max, or mean). sums [layer][g][rows + nQ] (the layout the cache update reads). grid (ceil((rows + nQ) / 128) for the largest rows, G), block 128.
extern "C" __global__ void attn_kv_score_sums(const float* raw, long rawStride, const float* stats, int H, int G,
                                              int nQ, const int* step, const float* byQuery,
                                              const float* byDistance, int mean, int layer, float* sums) {
    pdl_wait();   // launched overlapping after attn_decode (SplitKAttention#decode)
    const int g = blockIdx.y, group = H / G;
    const int rows = step[STEP_ROWS], nKeys = rows + nQ;
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= nKeys) return;
    float acc = mean ? 0.f : -INFINITY;
    for (int hh = 0; hh < group; hh++) {
        const int h = g * group + hh;
        float sum = 0.f;
        for (int i = j < rows ? 0 : j - rows; i < nQ; i++) {
            float w = j < rows ? byQuery[i] : byDistance[i - (j - rows)];
            const float* st = stats + ((long)h * nQ + i) * 2;
            sum += w * (expf(raw[((long)h * nQ + i) * rawStride + j] - st[0]) / st[1]);
        }
        acc = mean ? acc + sum : fmaxf(acc, sum);
    }
    sums[((long)layer * G + g) * nKeys + j] = mean ? acc / group : acc;
}

// After a chunk of n tokens entered the cache: the step block for the next one, from layer 0's ring (the ring
// bookkeeping is the same in every layer and head). One thread.
extern "C" __global__ void cache_step_advance(int* step, const int* ring, int C, int n, int originalPositions) {
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    int rows = ring[2 * C];
    for (int c = 0; c < C; c++) rows += ring[C + c];
    step[STEP_ROWS] = rows;
    step[STEP_SEEN] += n;
    step[STEP_POS] = originalPositions ? step[STEP_SEEN] : rows;
}
