// The cascading KV cache on the device (cascade-spec.md §2-§4): key gathering with rotary positions for
// attention, the score EMA, and the cache update (acceptance, eviction, selection), bit-for-bit the
// algorithm of the Java CascadingCache (model/.../cache/CascadingCache.java).
//
// ---------------------------------------------------------------------------------------------------
// State of one (layer, KV head) pair, "lh" below (index lh = layer * G + g); Z = S + C*W slots:
//   keys, values  bf16 [LH][Z][D]   keys WITHOUT rotary embedding (§1); slot s < S is sink s, slot
//                                   S + c*W + i is ring index i of cascade c
//   pos           int  [LH][Z]      document position of the entry in each slot
//   score         f32  [LH][Z]      attention-score EMA (§4)
//   src           int  [LH][Z]      scratch of the update: where a slot's new content comes from
//   ring          int  [LH][2*C+1]  start[0..C-1], stored[C..2C-1], sinks held [2C]
// Ring bookkeeping does not depend on scores, so every lh of a layer holds the same ring values.
// Rows held, in attention order (§3): sinks, then cascade C-1 .. 0, each ring oldest first; "rows" is
// their number (host computes it from ring, or keeps its own count: it only depends on the token count).
//
// cascade_gather_keys(keys, values, pos, ring, kNew, vNew, kOut, vOut, invFreq, S, C, W, D, G, rows, n,
//                     kNewTok, kNewHead, originalPositions, neox, t0)
//   kOut, vOut bf16 [LH][rows + n][D]: row r < rows is the cached row of rank r (K rotated at position r,
//   or at the entry's document position with originalPositions = 1), row rows + j is chunk token j
//   (rotated at rows + j, or t0 + j), from kNew/vNew element (g, j, d) at [g*kNewHead + j*kNewTok + d]
//   (vNew has kNew's strides, here and in cascade_move_rows).
//   invFreq f32 [D/2]; neox = 1 pairs element i with i + D/2, else 2i with 2i+1.
//   grid (ceil((rows+n)/8), LH), block 256 (one warp per row).
// rope_rows(x, xOut, invFreq, nRows, H, D, xTok, xHead, pos0, neox)
//   xOut bf16 [H][nRows][D] = x (element (h, j, d) at x[h*xHead + j*xTok + d]) rotated at pos0 + j.
//   grid (ceil(nRows/8), H), block 256.
// One stride of n tokens (document positions t0 .. t0+n-1), after its attention; rScores f32 [G][rows+n]
// are the reduced §4 score sums of the stride in attention order (attn_colsum's output):
// 1. cascade_prepare(score, src, ring, rScores, S, C, W, G, rows, n, decay, scored)
//    grid (ceil(Z/256), LH), block 256. Resets src; if scored, every cached non-sink entry's score
//    becomes decay * score + its sum (decay = β^n).
// 2. cascade_update_c{4,8,32}(pos, score, src, ring, rScores, S, C, W, G, rows, n, t0, scored, eager)
//    (the suffix: the most cascades it handles; C <= 32)
//    grid (LH), block 256, dynamic shared memory UPDATE_SMEM(C) = (C * (UPD_SUB + 1) * 3 + UPD_SUB) * 4 bytes.
//    Adds the n tokens one by one (§2), token j with score rScores[rows + j] (0 if not scored: then
//    every tie goes to the newer token, the "stride" selection); eager = 1 turns on eager fill. One
//    thread runs §2 on slot metadata (position, score, source) held in shared-memory windows (the ring
//    stretch a sub-chunk of UPD_SUB tokens can touch, per cascade); the block loads and stores them.
//    Only metadata moves here; src records where each slot's new row comes from.
// 3. cascade_move_rows(keys, values, src, kNew, vNew, S, C, W, D, G, level, kNewTok, kNewHead)
//    grid (ceil(W/256) or ceil(S/256) for the sinks, LH), block 256; launched for level = C-1 .. 0, then
//    -1 (the sinks), in that order: entries only move to later cascades, so each source row is read
//    before its own level is overwritten.
// ---------------------------------------------------------------------------------------------------

#include <cuda_bf16.h>
#include <stdint.h>

#define UPD_SUB 1024
#define UNCHANGED (-2147483647 - 1)

__device__ __forceinline__ void rotate_pair(float &a, float &b, float angle) {
    float s, c;
    sincosf(angle, &s, &c);
    float x = a * c - b * s, y = a * s + b * c;
    a = x;
    b = y;
}

// One warp rotates one row of D elements (D <= 256) from `in` to `out` at position p.
__device__ __forceinline__ void rope_row(const __nv_bfloat16 *in, __nv_bfloat16 *out, const float *invFreq, int D,
                                         float p, int neox, int lane) {
    const int half = D / 2;
    for (int i = lane; i < half; i += 32) {
        int ia = neox ? i : 2 * i, ib = neox ? i + half : 2 * i + 1;
        float a = __bfloat162float(in[ia]), b = __bfloat162float(in[ib]);
        rotate_pair(a, b, p * invFreq[i]);
        out[ia] = __float2bfloat16(a);
        out[ib] = __float2bfloat16(b);
    }
}

// Slot of the cached row of rank r (attention order), from the ring bookkeeping.
__device__ __forceinline__ int slot_of_rank(int r, const int *ring, int S, int C, int W) {
    int held = ring[2 * C];
    if (r < held) return r;
    r -= held;
    for (int c = C - 1; c >= 0; c--) {
        int st = ring[C + c];
        if (r < st) return S + c * W + (ring[c] + r) % W;
        r -= st;
    }
    return -1;
}

extern "C" __global__ void cascade_gather_keys(const __nv_bfloat16 *keys, const __nv_bfloat16 *values, const int *pos,
                                               const int *ring, const __nv_bfloat16 *kNew, const __nv_bfloat16 *vNew,
                                               __nv_bfloat16 *kOut, __nv_bfloat16 *vOut, const float *invFreq, int S,
                                               int C, int W, int D, int G, int rows, int n, long kNewTok,
                                               long kNewHead, int originalPositions, int neox, int t0) {
    const int lh = blockIdx.y, g = lh % G;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int r = blockIdx.x * 8 + warp;
    if (r >= rows + n) return;
    const long Z = S + (long)C * W;
    const int *rg = ring + lh * (2 * C + 1);
    const __nv_bfloat16 *kin, *vin;
    float p;
    if (r < rows) {
        int slot = slot_of_rank(r, rg, S, C, W);
        kin = keys + (lh * Z + slot) * D;
        vin = values + (lh * Z + slot) * D;
        p = originalPositions ? (float)pos[lh * Z + slot] : (float)r;
    } else {
        int j = r - rows;
        kin = kNew + g * kNewHead + j * kNewTok;
        vin = vNew + g * kNewHead + j * kNewTok;
        p = originalPositions ? (float)(t0 + j) : (float)r;
    }
    __nv_bfloat16 *ko = kOut + ((long)lh * (rows + n) + r) * D;
    __nv_bfloat16 *vo = vOut + ((long)lh * (rows + n) + r) * D;
    rope_row(kin, ko, invFreq, D, p, neox, lane);
    for (int d = lane * 8; d < D; d += 256) *reinterpret_cast<uint4 *>(vo + d) = *reinterpret_cast<const uint4 *>(vin + d);
}

extern "C" __global__ void rope_rows(const __nv_bfloat16 *x, __nv_bfloat16 *xOut, const float *invFreq, int nRows, int H,
                                     int D, long xTok, long xHead, int pos0, int neox) {
    const int h = blockIdx.y;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int j = blockIdx.x * 8 + warp;
    if (j >= nRows) return;
    rope_row(x + h * xHead + j * xTok, xOut + ((long)h * nRows + j) * D, invFreq, D, (float)(pos0 + j), neox, lane);
}

// ---- the cache update -----------------------------------------------------------------------------
// Scores decay and add the stride's sums (§4), and every slot's source is reset; many blocks, so the
// sequential part below only does the sequential work. grid (ceil(Z/256), LH), block 256.
__device__ __forceinline__ void cascade_prepare_body(float *score, int *src, const int *ring, const float *rScores,
                                                     int S, int C, int W, int G, int rows, int n, float decay,
                                                     int scored) {
    const int lh = blockIdx.y, g = lh % G;
    const long Z = S + (long)C * W;
    const long slot = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (slot >= Z) return;
    src[lh * Z + slot] = UNCHANGED;
    if (!scored || slot < S) return;   // sinks have no score
    const int *rg = ring + lh * (2 * C + 1);
    const int c = (int)((slot - S) / W), i = (int)((slot - S) % W);
    const int age = (i - rg[c] + W) % W;   // 0 = oldest
    if (age >= rg[C + c]) return;          // empty slot
    int rank = rg[2 * C];
    for (int c2 = C - 1; c2 > c; c2--) rank += rg[C + c2];
    rank += age;
    // Rounded multiply, then add (no fused multiply-add): the same float result as the Java cache, so a
    // tie decided there is decided the same way here.
    score[lh * Z + slot] = __fadd_rn(__fmul_rn(decay, score[lh * Z + slot]), rScores[(long)g * (rows + n) + rank]);
}

extern "C" __global__ void cascade_prepare(float *score, int *src, const int *ring, const float *rScores, int S, int C,
                                           int W, int G, int rows, int n, float decay, int scored) {
    cascade_prepare_body(score, src, ring, rScores, S, C, W, G, rows, n, decay, scored);
}

// MAXC: the most cascades an instantiation handles; its loops over cascades unroll fully, so the ring
// state stays in registers (a run-time index would put it in local memory).
template <int MAXC>
__device__ __forceinline__ void cascade_update_body(int *pos, float *score, int *src, int *ring, const float *rScores,
                                                    int S, int C, int W, int G, int rows, int n, int t0, int scored,
                                                    int eager) {
    extern __shared__ __align__(16) unsigned char smem[];
    __shared__ int sStart[MAXC], sStored[MAXC], sW0[MAXC], sHeld;
    const int lh = blockIdx.x, g = lh % G;
    const long Z = S + (long)C * W;
    int *rg = ring + lh * (2 * C + 1);
    int *lpos = pos + lh * Z, *lsrc = src + lh * Z;
    float *lscore = score + lh * Z;
    const float *r = rScores + (long)g * (rows + n);
    const int L = UPD_SUB + 1, len = min(W, L);
    int *wPos = reinterpret_cast<int *>(smem);
    int *wSrc = wPos + C * L;
    float *wScore = reinterpret_cast<float *>(wSrc + C * L);
    float *wInit = wScore + C * L;   // the sub-chunk's initial scores

    if (threadIdx.x < C) {
        sStart[threadIdx.x] = rg[threadIdx.x];
        sStored[threadIdx.x] = rg[C + threadIdx.x];
    }
    if (threadIdx.x == 0) sHeld = rg[2 * C];
    __syncthreads();

    for (int j0 = 0; j0 < n; j0 += UPD_SUB) {
        const int jn = min(n, j0 + UPD_SUB);
        // Windows: from one before the oldest entry (full ring) or before the end (filling), mod W; a
        // sub-chunk of UPD_SUB tokens advances each ring by at most UPD_SUB.
        if (threadIdx.x < C) {
            int c = threadIdx.x;
            sW0[c] = ((sStored[c] < W ? sStored[c] : sStart[c]) - 1 + W) % W;
        }
        __syncthreads();
        for (int c = 0; c < C; c++) {
            for (int x = threadIdx.x; x < len; x += blockDim.x) {
                long slot = S + (long)c * W + (sW0[c] + x) % W;
                wPos[c * L + x] = lpos[slot];
                wSrc[c * L + x] = lsrc[slot];
                wScore[c * L + x] = lscore[slot];
            }
        }
        for (int j = j0 + threadIdx.x; j < jn; j += blockDim.x) wInit[j - j0] = scored ? r[rows + j] : 0.f;
        __syncthreads();
        if (threadIdx.x == 0) {
            int start[MAXC], stored[MAXC], w0s[MAXC];
#pragma unroll
            for (int c = 0; c < MAXC; c++) {
                if (c < C) {
                    start[c] = sStart[c];
                    stored[c] = sStored[c];
                    w0s[c] = sW0[c];
                }
            }
            // Window index of ring index i of cascade c (both in [0, W): one conditional add, no modulo).
#define WIN(c, i) ((i) - w0s[c] < 0 ? (i) - w0s[c] + W : (i) - w0s[c])
            for (int j = j0; j < jn; j++) {
                const int t = t0 + j;
                const float init = wInit[j - j0];
                if (t < S) {   // a sink: kept forever, no score
                    lpos[t] = t;
                    lscore[t] = 0.f;
                    lsrc[t] = -1 - j;
                    sHeld = t + 1;
                    continue;
                }
                const int nn = t - S;
                const bool eagerNow = eager && (long)t < (long)S + (long)C * W;
                int cPos = t, cSrc = -1 - j;
                float cScore = init;
                bool live = true;   // a carry leaving the last cascade is forgotten
#pragma unroll
                for (int c = 0; c < MAXC; c++) {
                    if (!live || c >= C) continue;   // (no break: keeps the loop unrolled, the state in registers)
                    const bool onBeat = eagerNow || (nn & ((1 << c) - 1)) == 0;
                    int *wp = wPos + c * L, *ws = wSrc + c * L;
                    float *wsc = wScore + c * L;
                    if (onBeat) {
                        if (stored[c] < W) {   // room left: the carry settles here
                            int x = WIN(c, stored[c]);
                            wp[x] = cPos; ws[x] = cSrc; wsc[x] = cScore;
                            stored[c]++;
                            live = false;
                        } else {               // full: the carry takes the oldest slot; the oldest entry travels on
                            int x = WIN(c, start[c]);
                            int oPos = wp[x], oSrc = ws[x];
                            float oScore = wsc[x];
                            if (oSrc == UNCHANGED) oSrc = S + c * W + start[c];   // its row as of the stride's start
                            wp[x] = cPos; ws[x] = cSrc; wsc[x] = cScore;
                            cPos = oPos; cSrc = oSrc; cScore = oScore;
                            start[c] = start[c] + 1 == W ? 0 : start[c] + 1;
                        }
                    } else {
                        if (stored[c] == 0) {  // an empty cascade takes the carry
                            int x = WIN(c, 0);
                            wp[x] = cPos; ws[x] = cSrc; wsc[x] = cScore;
                            stored[c] = 1;
                        } else {               // off the beat: the carry competes for the newest slot
                            int newest = stored[c] < W ? stored[c] - 1 : (start[c] == 0 ? W - 1 : start[c] - 1);
                            int x = WIN(c, newest);
                            // Ties go to the newer token (§2): equal scores give a strided subsample.
                            if (cScore >= wsc[x]) { wp[x] = cPos; ws[x] = cSrc; wsc[x] = cScore; }
                        }
                        live = false;
                    }
                }
            }
#undef WIN
#pragma unroll
            for (int c = 0; c < MAXC; c++) {
                if (c < C) {
                    sStart[c] = start[c];
                    sStored[c] = stored[c];
                }
            }
        }
        __syncthreads();
        for (int c = 0; c < C; c++) {
            for (int x = threadIdx.x; x < len; x += blockDim.x) {
                long slot = S + (long)c * W + (sW0[c] + x) % W;
                lpos[slot] = wPos[c * L + x];
                lsrc[slot] = wSrc[c * L + x];
                lscore[slot] = wScore[c * L + x];
            }
        }
        __syncthreads();
    }
    if (threadIdx.x < C) {
        rg[threadIdx.x] = sStart[threadIdx.x];
        rg[C + threadIdx.x] = sStored[threadIdx.x];
    }
    if (threadIdx.x == 0) rg[2 * C] = sHeld;
}

#define UPDATE_ENTRY(NAME, MAXC)                                                                           \
    extern "C" __global__ void __launch_bounds__(256) NAME(int *pos, float *score, int *src, int *ring,       \
                                                           const float *rScores, int S, int C, int W, int G,  \
                                                           int rows, int n, int t0, int scored, int eager) {  \
        cascade_update_body<MAXC>(pos, score, src, ring, rScores, S, C, W, G, rows, n, t0, scored, eager);    \
    }
// cascade_update_c{4,8,32}: up to 4, 8 or 32 cascades (the host picks the smallest that fits).
UPDATE_ENTRY(cascade_update_c4, 4)
UPDATE_ENTRY(cascade_update_c8, 8)
UPDATE_ENTRY(cascade_update_c32, 32)

// Moves the K/V rows the update decided on for one level (cascade c, or the sinks with c = -1): a slot
// whose src is an old slot copies that row, one whose src is -1-j copies chunk token j. The host
// launches the levels last cascade first, then the sinks: sources always lie in earlier cascades
// (entries only move to later ones), so each is read before its own level overwrites it.
// grid (ceil(levelSlots/256), LH), block 256; one warp copies one row (D/8 pieces of K, D/8 of V).
extern "C" __global__ void cascade_move_rows(__nv_bfloat16 *keys, __nv_bfloat16 *values, const int *src,
                                             const __nv_bfloat16 *kNew, const __nv_bfloat16 *vNew, int S, int C,
                                             int W, int D, int G, int level, long kNewTok, long kNewHead) {
    const int lh = blockIdx.y, g = lh % G;
    const long Z = S + (long)C * W;
    const int count = level < 0 ? S : W;
    const long base = level < 0 ? 0 : S + (long)level * W;
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int lane = threadIdx.x & 31;
    const int sr = i < count ? src[lh * Z + base + i] : UNCHANGED;
    unsigned todo = __ballot_sync(0xffffffff, sr != UNCHANGED);
    const int pieces = D / 8;
    while (todo) {
        const int l = __ffs(todo) - 1;
        todo &= todo - 1;
        const int s = __shfl_sync(0xffffffff, sr, l);
        const long dst = lh * Z + base + (i - lane + l);
        const __nv_bfloat16 *kf, *vf;
        if (s >= 0) {
            kf = keys + (lh * Z + s) * D;
            vf = values + (lh * Z + s) * D;
        } else {
            kf = kNew + g * kNewHead + (long)(-1 - s) * kNewTok;
            vf = vNew + g * kNewHead + (long)(-1 - s) * kNewTok;
        }
        for (int p = lane; p < 2 * pieces; p += 32) {
            if (p < pieces) {
                *reinterpret_cast<uint4 *>(keys + dst * D + p * 8) = *reinterpret_cast<const uint4 *>(kf + p * 8);
            } else {
                int q = p - pieces;
                *reinterpret_cast<uint4 *>(values + dst * D + q * 8) = *reinterpret_cast<const uint4 *>(vf + q * 8);
            }
        }
    }
}

// ---- the same update with the step's values read from device memory --------------------------------------
// For the CUDA session, whose decode step is one captured graph: rows = step[0] and t0 = step[2] (the step
// block of decode.cu) instead of arguments. All layers of a model go in one launch: G is then layers × KV heads
// and lh = layer·kvHeads + g, the chunk's rows and score sums being laid out [lh][..] alike.
extern "C" __global__ void cascade_prepare_step(float *score, int *src, const int *ring, const float *rScores, int S,
                                                int C, int W, int G, const int *step, int n, float decay,
                                                int scored) {
    cascade_prepare_body(score, src, ring, rScores, S, C, W, G, step[0], n, decay, scored);
}

#define UPDATE_STEP_ENTRY(NAME, MAXC)                                                                      \
    extern "C" __global__ void __launch_bounds__(256) NAME(int *pos, float *score, int *src, int *ring,       \
                                                           const float *rScores, int S, int C, int W, int G,  \
                                                           const int *step, int n, int scored, int eager) {   \
        cascade_update_body<MAXC>(pos, score, src, ring, rScores, S, C, W, G, step[0], n, step[2], scored,    \
                                  eager);                                                                  \
    }
UPDATE_STEP_ENTRY(cascade_update_step_c4, 4)
UPDATE_STEP_ENTRY(cascade_update_step_c8, 8)
UPDATE_STEP_ENTRY(cascade_update_step_c32, 32)
