// Matrix–vector products for decoding and small chunks, decoding the weights inside the kernel:
// out[t·ldOut + r] = beta·out[t·ldOut + r] + Σ_c w[r, c]·x[t, c] for t < n (ldOut ≥ rows: a column slice of
// wider rows, so products of several matrices can fill one fused output). One warp per weight row; each lane decodes
// eight values at a time and applies them to up to four token rows, so a weight is read once per 4 tokens.
#include "dequant.cuh"

#define TOKENS 4

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
        for (int u = lane; u < units; u += 32) {
            float wv[8];
            Quant<TYPE>::unit(row, u, wv);
            #pragma unroll
            for (int tt = 0; tt < TOKENS; tt++) {
                if (tt < tn) {
                    const float4* xp = reinterpret_cast<const float4*>(x + (long)(t0 + tt) * cols + 8 * u);
                    float4 a = xp[0], b = xp[1];
                    acc[tt] += wv[0] * a.x + wv[1] * a.y + wv[2] * a.z + wv[3] * a.w
                             + wv[4] * b.x + wv[5] * b.y + wv[6] * b.z + wv[7] * b.w;
                }
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
