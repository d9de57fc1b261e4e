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
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int first = (blockIdx.x * DMV_WARPS + warp) * (SWIGLU ? 1 : PER_WARP);
    if (first >= rows) return;
    const int second = SWIGLU ? rows + first : first + 1;
    const bool two = SWIGLU || (PER_WARP == 2 && second < rows);
    const uint8_t* ra = w + (long)first * rowBytes;
    const uint8_t* rb = w + (long)(two ? second : first) * rowBytes;
    const int units = cols / 8;
    const bool B = SWIGLU || PER_WARP == 2;   // a second row at all (compile time)
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

// Merges the splits of query i for the heads of KV head g: out [i][h][D] f32 (the layout the output product
// reads); stats [h][i][2] = (max, sum) of the whole row, for the score sums. Every split's (max, sum) is loaded at
// once into shared memory and turned into its weight; then each output element sums its splits with four loads
// in flight (the splits were written by the previous kernel: L2 latency, not bandwidth, is the cost).
// grid (G, nQ), block 128; splits ≤ AK_MAX_SPLITS.
#define AK_MAX_SPLITS 128
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
