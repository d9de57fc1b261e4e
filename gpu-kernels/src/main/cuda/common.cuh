// Shared helpers of the cascade-lm kernels: 16-bit float decoding and warp/block reductions.
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>

// GGML type ids (cascadelm.kernels.TensorType).
#define T_F32 0
#define T_F16 1
#define T_Q4_0 2
#define T_Q8_0 8
#define T_Q4_K 12
#define T_Q6_K 14
#define T_BF16 30

// Programmatic dependent launch (Hopper; CudaDevice#launchOverlapping): a kernel launched that way may start while
// its predecessor in the stream still runs. pdl_trigger lets the next such kernel launch once every block of this
// one has issued it; pdl_wait returns once the predecessors have finished and their writes are visible, so nothing
// they write may be read, and nothing they read may be written, before it. Both are no-ops in a kernel launched the
// usual way, and compile to nothing below compute capability 9.0 (the compute_80 build of these sources).
__device__ __forceinline__ void pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Asks for the 128-byte lines of [p, p + bytes) in L2, each lane of a warp a share (weights a kernel will read
// after pdl_wait: they arrive while the predecessor drains). Only in the sm_90 build, which alone overlaps
// launches: the compute-8.0 PTX (the default, decode version 9) keeps version 9's kernels unchanged.
__device__ __forceinline__ void prefetch_l2(const uint8_t* p, long bytes, int lane) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    for (long o = 128L * lane; o < bytes; o += 128L * 32) asm volatile("prefetch.global.L2 [%0];" :: "l"(p + o));
#endif
}

__device__ __forceinline__ float half_at(const uint8_t* p) {
    return __half2float(__ushort_as_half((unsigned short)(p[0] | (p[1] << 8))));
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < warps ? scratch[lane] : 0.f;
    return warp_sum(t);
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < warps ? scratch[lane] : -INFINITY;
    return warp_max(t);
}
