// Decoding of weight rows, eight consecutive values ("a unit") at a time, for every TensorType.
// Unit u of a row holds values 8u .. 8u+7. Layouts as GGUF stores them (see the CPU *Rows classes).
#pragma once
#include "common.cuh"

template <int TYPE> struct Quant;

template <> struct Quant<T_F32> {
    __device__ static void unit(const uint8_t* row, int u, float w[8]) {
        const float4* p = reinterpret_cast<const float4*>(row) + 2 * u;
        float4 a = p[0], b = p[1];
        w[0] = a.x; w[1] = a.y; w[2] = a.z; w[3] = a.w; w[4] = b.x; w[5] = b.y; w[6] = b.z; w[7] = b.w;
    }
};

template <> struct Quant<T_F16> {
    __device__ static void unit(const uint8_t* row, int u, float w[8]) {
        uint4 v = reinterpret_cast<const uint4*>(row)[u];
        const __half2* h = reinterpret_cast<const __half2*>(&v);
        for (int i = 0; i < 4; i++) {
            float2 f = __half22float2(h[i]);
            w[2 * i] = f.x; w[2 * i + 1] = f.y;
        }
    }
};

template <> struct Quant<T_BF16> {
    __device__ static void unit(const uint8_t* row, int u, float w[8]) {
        uint4 v = reinterpret_cast<const uint4*>(row)[u];
        const uint32_t* x = reinterpret_cast<const uint32_t*>(&v);
        for (int i = 0; i < 4; i++) {
            w[2 * i] = __uint_as_float(x[i] << 16);
            w[2 * i + 1] = __uint_as_float(x[i] & 0xffff0000u);
        }
    }
};

// Q8_0 as the device keeps it (DeviceMatrix repacks the file's 34-byte blocks on upload, q8_0_repack): each row in
// groups of four blocks (128 values), a group = the four f16 scales (8 bytes), then the 128 int8 quants (the same 136
// bytes as four file blocks; a row's last group is padded to 136). Unit u = group u/16, quants 8(u%16)..: one 8-byte
// aligned load instead of eight byte loads.
template <> struct Quant<T_Q8_0> {
    __device__ static void unit(const uint8_t* row, int u, float w[8]) {
        const uint8_t* g = row + (u >> 4) * 136;
        float d = __half2float(*reinterpret_cast<const __half*>(g + 2 * ((u >> 2) & 3)));
        uint2 v = *reinterpret_cast<const uint2*>(g + 8 + 8 * (u & 15));
        // int8 to float without the quarter-rate I2F: q + 128 as the low mantissa byte of 2^23 (one byte permute),
        // then one subtraction, exact.
        unsigned a = v.x ^ 0x80808080u, b = v.y ^ 0x80808080u;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            w[i] = d * (__uint_as_float(__byte_perm(a, 0x4B000000u, 0x7440 + i)) - 8388736.f);
            w[4 + i] = d * (__uint_as_float(__byte_perm(b, 0x4B000000u, 0x7440 + i)) - 8388736.f);
        }
    }

    // The unit's quants as floats (exact) and its block scale apart, for products that apply the scale once per
    // eight values (decode.cu's dmv_rows): one multiply fewer per value.
    __device__ static float quants(const uint8_t* row, int u, float q[8]) {
        const uint8_t* g = row + (u >> 4) * 136;
        uint2 v = *reinterpret_cast<const uint2*>(g + 8 + 8 * (u & 15));
        unsigned a = v.x ^ 0x80808080u, b = v.y ^ 0x80808080u;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            q[i] = __uint_as_float(__byte_perm(a, 0x4B000000u, 0x7440 + i)) - 8388736.f;
            q[4 + i] = __uint_as_float(__byte_perm(b, 0x4B000000u, 0x7440 + i)) - 8388736.f;
        }
        return __half2float(*reinterpret_cast<const __half*>(g + 2 * ((u >> 2) & 3)));
    }
};

// Q4_0: 18-byte blocks of 32: f16 d, 16 bytes; low nibbles values 0..15, high nibbles 16..31; d·(q−8).
template <> struct Quant<T_Q4_0> {
    __device__ static void unit(const uint8_t* row, int u, float w[8]) {
        const uint8_t* b = row + (u >> 2) * 18;
        float d = half_at(b);
        int part = u & 3;
        const uint8_t* q = b + 2 + 8 * (part & 1);
        int shift = part >= 2 ? 4 : 0;
        for (int i = 0; i < 8; i++) w[i] = d * (float)(((q[i] >> shift) & 0xF) - 8);
    }
};

// Q4_K: 144-byte super-blocks of 256: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles.
template <> struct Quant<T_Q4_K> {
    __device__ static void unit(const uint8_t* row, int u, float w[8]) {
        const uint8_t* b = row + (u >> 5) * 144;
        int i0 = (u & 31) * 8;          // value index inside the super-block
        int sub = i0 >> 5;              // sub-block of 32
        const uint8_t* s = b + 4;
        int sc, m;
        if (sub < 4) {
            sc = s[sub] & 63;
            m = s[sub + 4] & 63;
        } else {
            sc = (s[sub + 4] & 0xF) | ((s[sub - 4] >> 6) << 4);
            m = (s[sub + 4] >> 4) | ((s[sub] >> 6) << 4);
        }
        float d = half_at(b) * sc, dm = half_at(b + 2) * m;
        const uint8_t* q = b + 16 + 32 * (sub >> 1) + (i0 & 31);
        int shift = (sub & 1) ? 4 : 0;
        for (int i = 0; i < 8; i++) w[i] = d * (float)((q[i] >> shift) & 0xF) - dm;
    }
};

// Q6_K: 210-byte super-blocks of 256: ql[128], qh[64], int8 scales[16], f16 d. In each half of 128 values,
// byte l of ql/qh feeds values l, l+32, l+64, l+96; value = d·sc·(q − 32).
template <> struct Quant<T_Q6_K> {
    __device__ static void unit(const uint8_t* row, int u, float w[8]) {
        const uint8_t* b = row + (u >> 5) * 210;
        int i0 = (u & 31) * 8;
        int h = i0 >> 7, r = i0 & 127, group = r >> 5, l0 = r & 31;
        float d = half_at(b + 208) * (float)reinterpret_cast<const int8_t*>(b + 192)[i0 >> 4];
        const uint8_t* ql = b + 64 * h + l0 + ((group & 1) ? 32 : 0);
        const uint8_t* qh = b + 128 + 32 * h + l0;
        int lowShift = group >= 2 ? 4 : 0;
        for (int i = 0; i < 8; i++) {
            int q = ((ql[i] >> lowShift) & 0xF) | (((qh[i] >> (2 * group)) & 3) << 4);
            w[i] = d * (float)(q - 32);
        }
    }
};

// Calls F with the Quant specialisation of a runtime type id; false if the type is unknown.
#define DISPATCH_TYPE(type, CALL) \
    switch (type) { \
        case T_F32: CALL(T_F32); break; \
        case T_F16: CALL(T_F16); break; \
        case T_BF16: CALL(T_BF16); break; \
        case T_Q8_0: CALL(T_Q8_0); break; \
        case T_Q4_0: CALL(T_Q4_0); break; \
        case T_Q4_K: CALL(T_Q4_K); break; \
        case T_Q6_K: CALL(T_Q6_K); break; \
    }
