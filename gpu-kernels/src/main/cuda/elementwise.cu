// Element-wise and row-wise kernels of the forward pass. Rows are row-major float32.
#include "dequant.cuh"

// out[t, :] = x[t, :] / sqrt(mean(x[t, :]²) + eps) * w; one block per row; out may be x.
extern "C" __global__ void rmsnorm(const float* x, const float* w, float* out, int dim, float eps) {
    __shared__ float scratch[32];
    const float* xr = x + (long)blockIdx.x * dim;
    float* o = out + (long)blockIdx.x * dim;
    float ss = 0.f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
    ss = block_sum(ss, scratch);
    float inv = (float)(1.0 / sqrt((double)(ss / dim) + (double)eps));
    for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = xr[i] * inv * w[i];
}

// gate[i] = silu(gate[i]) * up[i].
extern "C" __global__ void swiglu(float* gate, const float* up, long length) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < length) {
        float g = gate[i];
        gate[i] = g / (1.f + expf(-g)) * up[i];
    }
}

// Rows of [gate | up] (2·ffn wide, from one fused matrix product) to rows of silu(gate)·up (ffn wide).
extern "C" __global__ void swiglu_fused(const float* gateUp, float* out, int n, int ffn) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long)n * ffn) return;
    long t = i / ffn, c = i % ffn;
    float g = gateUp[t * 2 * ffn + c];
    out[i] = g / (1.f + expf(-g)) * gateUp[t * 2 * ffn + ffn + c];
}

extern "C" __global__ void add(float* a, const float* b, long length) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < length) a[i] += b[i];
}

// x[t, c] += bias[c] for t < n.
extern "C" __global__ void add_bias(float* x, const float* bias, int n, int dim) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < (long)n * dim) x[i] += bias[i % dim];
}

// Softmax in place over x[0, length), one block, max subtracted, float32.
extern "C" __global__ void softmax(float* x, int length) {
    __shared__ float scratch[32];
    float m = -INFINITY;
    for (int i = threadIdx.x; i < length; i += blockDim.x) m = fmaxf(m, x[i]);
    m = block_max(m, scratch);
    float s = 0.f;
    for (int i = threadIdx.x; i < length; i += blockDim.x) {
        float e = expf(x[i] - m);
        x[i] = e;
        s += e;
    }
    s = block_sum(s, scratch);
    float inv = 1.f / s;
    for (int i = threadIdx.x; i < length; i += blockDim.x) x[i] *= inv;
}

extern "C" __global__ void f32_to_f16(const float* x, __half* y, long n) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = __float2half_rn(x[i]);
}

extern "C" __global__ void f32_to_bf16(const float* x, __nv_bfloat16* y, long n) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = __float2bfloat16_rn(x[i]);
}

// Rotation of one (row, head) by the angles of one position: pairs (2i, 2i+1), or (i, i + pairs) with neox.
// Angles in double precision, as the CPU's RopeKernel forms them (position · frequency loses low bits in float).
__device__ __forceinline__ void rotate_head(float* x, int position, const float* freqs, int pairs, int neox) {
    int stride = neox ? 1 : 2, partner = neox ? pairs : 1;
    for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
        double angle = (double)position * (double)freqs[i];
        float c = (float)cos(angle), s = (float)sin(angle);
        int a = i * stride;
        float x0 = x[a], x1 = x[a + partner];
        x[a] = x0 * c - x1 * s;
        x[a + partner] = x0 * s + x1 * c;
    }
}

// In place: x is n × heads × headDim; row t at positions[t]; one block per (row, head).
extern "C" __global__ void rope(float* x, int heads, int headDim, const int* positions, const float* freqs, int pairs,
                                int neox) {
    int t = blockIdx.x / heads, h = blockIdx.x % heads;
    rotate_head(x + ((long)t * heads + h) * headDim, positions[t], freqs, pairs, neox);
}

// Decodes rows tokens[t] of a weight matrix into out[t, 0..cols); grid (units / 128 rounded up, n).
#define EMBED_CALL(T) { float w[8]; Quant<T>::unit(row, u, w); for (int i = 0; i < 8; i++) o[8 * u + i] = w[i]; }
extern "C" __global__ void embed_rows(const uint8_t* weights, int type, long rowBytes, int cols, const int* tokens,
                                      float* out) {
    pdl_trigger();
    pdl_wait();   // the token (and out) belong to the predecessors when launched overlapping
    int t = blockIdx.y;
    int u = blockIdx.x * blockDim.x + threadIdx.x;
    if (u >= cols / 8) return;
    const uint8_t* row = weights + (long)tokens[t] * rowBytes;
    float* o = out + (long)t * cols;
    DISPATCH_TYPE(type, EMBED_CALL)
}

// The whole matrix decoded to 16-bit floats (f16, or bf16 with toBf16), row-major, for cuBLAS prefill GEMMs.
#define HALF_CALL(T) { float w[8]; Quant<T>::unit(row, u, w); \
    if (toBf16) { __nv_bfloat16* o = (__nv_bfloat16*)out + r * cols + 8 * u; for (int i = 0; i < 8; i++) o[i] = __float2bfloat16_rn(w[i]); } \
    else { __half* o = (__half*)out + r * cols + 8 * u; for (int i = 0; i < 8; i++) o[i] = __float2half_rn(w[i]); } }
extern "C" __global__ void dequant_half(const uint8_t* weights, int type, long rowBytes, int rows, int cols, void* out,
                                        int toBf16) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    long unitsPerRow = cols / 8;
    if (i >= (long)rows * unitsPerRow) return;
    long r = i / unitsPerRow;
    int u = (int)(i % unitsPerRow);
    const uint8_t* row = weights + r * rowBytes;
    DISPATCH_TYPE(type, HALF_CALL)
}

// File Q8_0 rows (34-byte blocks: f16 scale, 32 int8) into the device layout of dequant.cuh (groups of four blocks:
// four scales, then 128 quants; rows dstRowBytes apart). One thread per block; grid ceil(rows·blocks/256).
extern "C" __global__ void q8_0_repack(const uint8_t* src, long srcRowBytes, uint8_t* dst, long dstRowBytes, int rows,
                                       int blocksPerRow) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long)rows * blocksPerRow) return;
    long r = i / blocksPerRow;
    int b = (int)(i % blocksPerRow);
    const uint8_t* s = src + r * srcRowBytes + 34L * b;
    uint8_t* g = dst + r * dstRowBytes + 136L * (b >> 2);
    g[2 * (b & 3)] = s[0];
    g[2 * (b & 3) + 1] = s[1];
    for (int k = 0; k < 32; k++) g[8 + 32 * (b & 3) + k] = s[2 + k];
}
