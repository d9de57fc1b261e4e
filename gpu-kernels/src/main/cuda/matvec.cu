// Matrix–vector products for decoding and small chunks, decoding the weights inside the kernel:
// out[t·ldOut + r] = beta·out[t·ldOut + r] + Σ_c w[r, c]·x[t, c] for t < n (ldOut ≥ rows: a column slice of
// wider rows, so products of several matrices can fill one fused output). One warp per weight row; each lane decodes
// eight values at a time and applies them to up to four token rows, so a weight is read once per 4 tokens.
#include "dequant.cuh"

#define TOKENS 4

__device__ __forceinline__ float dot8(const float* w, const float* x) {
    const float4* xp = reinterpret_cast<const float4*>(x);
    float4 a = xp[0], b = xp[1];
    return w[0] * a.x + w[1] * a.y + w[2] * a.z + w[3] * a.w + w[4] * b.x + w[5] * b.y + w[6] * b.z + w[7] * b.w;
}

template <int TYPE>
__device__ void matvec_rows(const uint8_t* w, long rowBytes, int rows, int cols, const float* x, int n, float* out,
                            int ldOut, float beta) {
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int r = blockIdx.x * (blockDim.x >> 5) + warp;
    if (r >= rows) return;
    const uint8_t* row = w + (long)r * rowBytes;
    int units = cols / 8;
    for (int t0 = 0; t0 < n; t0 += TOKENS) {
        int tn = min(TOKENS, n - t0);
        float acc[TOKENS] = {0.f, 0.f, 0.f, 0.f};
        int u = lane;
        // Four units per lane decoded before any is used: four loads in flight per lane, which the one-at-a-time
        // loop lacked (decode is bound by how many weight bytes are in flight, not by arithmetic).
        for (; u + 96 < units; u += 128) {
            float wv[4][8];
            #pragma unroll
            for (int k = 0; k < 4; k++) Quant<TYPE>::unit(row, u + 32 * k, wv[k]);
            #pragma unroll
            for (int k = 0; k < 4; k++) {
                #pragma unroll
                for (int tt = 0; tt < TOKENS; tt++) {
                    if (tt < tn) acc[tt] += dot8(wv[k], x + (long)(t0 + tt) * cols + 8 * (u + 32 * k));
                }
            }
        }
        for (; u < units; u += 32) {
            float wv[8];
            Quant<TYPE>::unit(row, u, wv);
            #pragma unroll
            for (int tt = 0; tt < TOKENS; tt++) {
                if (tt < tn) acc[tt] += dot8(wv, x + (long)(t0 + tt) * cols + 8 * u);
            }
        }
        #pragma unroll
        for (int tt = 0; tt < TOKENS; tt++) {
            float s = warp_sum(acc[tt]);
            if (lane == 0 && tt < tn) {
                float* o = out + (long)(t0 + tt) * ldOut + r;
                *o = beta == 0.f ? s : beta * *o + s;
            }
        }
    }
}

#define MATVEC(NAME, T) \
extern "C" __global__ void NAME(const uint8_t* w, long rowBytes, int rows, int cols, const float* x, int n, float* out, \
                                int ldOut, float beta) { matvec_rows<T>(w, rowBytes, rows, cols, x, n, out, ldOut, beta); }

MATVEC(matvec_f32, T_F32)
MATVEC(matvec_f16, T_F16)
MATVEC(matvec_bf16, T_BF16)
MATVEC(matvec_q8_0, T_Q8_0)
MATVEC(matvec_q4_0, T_Q4_0)
MATVEC(matvec_q4_k, T_Q4_K)
MATVEC(matvec_q6_k, T_Q6_K)
