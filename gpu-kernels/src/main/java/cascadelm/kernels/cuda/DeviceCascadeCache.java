package cascadelm.kernels.cuda;

import java.nio.file.Path;

/**
 * One attention layer's cascading KV cache (cascade-spec.md §2–§5) resident on the device, with the whole strided
 * prefill step on the device: gather the held rows in attention order with rotary positions by cache position,
 * flash attention of the stride over sinks + cache + itself, the exact §4 score sums, the score EMA and the cache
 * update (acceptance, eviction, selection; K/V rows moved), as {@code cascade_cache.cu} and
 * {@code flash_attention.cu} define them. The update follows the Java {@code CascadingCache} exactly (checked
 * against it by {@code GpuAttentionBenchmark} and {@code tools/device/cascade_check.py}).
 *
 * <p>Memory is allocated once: sinks + cache-size rows per KV head, whatever the document length.
 */
public final class DeviceCascadeCache implements AutoCloseable {
    private static final int UPD_SUB = 1024;
    private final CudaDevice device;
    private final FlashAttention attention;
    private final KernelModule kernels;
    public final int heads, kvHeads, headDim, sinks, cascades, width, slots, maxStride;
    private final double beta;
    private final boolean scored, eager, neox;
    private final DeviceBuffer keys, values, pos, score, src, ring, invFreq;
    private final DeviceBuffer kAttn, vAttn, sums, qRot, out, lse;
    private long seen;
    private int scoreQueryStep = 1;
    private boolean skipSettled;

    /**
     * @param inverseFrequencies rotary inverse frequency of each pair (headDim / 2 values, scaling included)
     * @param beta               EMA decay; {@code scored} false keeps every score 0 ("stride" selection)
     */
    public DeviceCascadeCache(FlashAttention attention, Path kernelDir, int heads, int kvHeads, int headDim, int sinks,
                              int cacheSize, int cascades, int maxStride, double beta, boolean scored, boolean eager,
                              float[] inverseFrequencies, boolean neox) {
        if (cacheSize % cascades != 0) {
            throw new IllegalArgumentException("cache-size " + cacheSize + " must be divisible by cascades " + cascades);
        }
        if (cascades > 32) throw new IllegalArgumentException(cascades + " cascades: the device update handles at most 32");
        if (inverseFrequencies.length != headDim / 2) {
            throw new IllegalArgumentException("need " + headDim / 2 + " rotary frequencies, got " + inverseFrequencies.length);
        }
        this.device = attention.device();
        this.attention = attention;
        this.kernels = KernelModule.load(device, "cascade_cache", kernelDir);
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.sinks = sinks;
        this.cascades = cascades;
        this.width = cacheSize / cascades;
        this.slots = sinks + cacheSize;
        this.maxStride = maxStride;
        this.beta = beta;
        this.scored = scored;
        this.eager = eager;
        this.neox = neox;
        long z = (long) kvHeads * slots;
        keys = device.alloc(z * headDim * 2);
        values = device.alloc(z * headDim * 2);
        pos = device.alloc(z * 4);
        score = device.alloc(z * 4);
        src = device.alloc(z * 4);
        ring = device.alloc((long) kvHeads * (2 * cascades + 1) * 4);
        invFreq = device.uploadNew(inverseFrequencies);
        long rowsMax = (long) kvHeads * (slots + maxStride);
        kAttn = device.alloc(rowsMax * headDim * 2);
        vAttn = device.alloc(rowsMax * headDim * 2);
        sums = device.alloc(rowsMax * 4);
        qRot = device.alloc((long) heads * maxStride * headDim * 2);
        out = device.alloc((long) heads * maxStride * headDim * 2);
        lse = device.alloc((long) heads * maxStride * 4);
        device.fill32(keys.address(), 0, z * headDim / 2);
        device.fill32(values.address(), 0, z * headDim / 2);
        device.fill32(pos.address(), -1, z);
        device.fill32(score.address(), 0, z);
        device.fill32(ring.address(), 0, (long) kvHeads * (2 * cascades + 1));
    }

    /**
     * How the §4 score sums are computed (default: exact, every query, every key). {@code queryStep} k > 1 estimates
     * the sums of cached keys from every k-th query of the stride (cascade-spec §4 allows an approximation whose
     * rank correlation with the exact scores stays above 0.95; bench/results/gpu-kernel-notes.md has the measured
     * correlation). {@code skipSettled} leaves out, once the cache is full, the entries of the last cascade other
     * than its newest: §2 never compares them again (they only age out), so the cache holds exactly the same
     * tokens, but their stored scores stop being updated.
     */
    public DeviceCascadeCache scoreSampling(int queryStep, boolean skipSettled) {
        if (queryStep < 1) throw new IllegalArgumentException("score query step " + queryStep + ": must be >= 1");
        this.scoreQueryStep = queryStep;
        this.skipSettled = skipSettled;
        return this;
    }

    /** Bytes of device memory the cache state holds (constant in the document length). */
    public long stateBytes() {
        return keys.bytes() + values.bytes() + pos.bytes() + score.bytes() + src.bytes() + ring.bytes();
    }

    public long tokensSeen() {
        return seen;
    }

    /** Rows held now. With eager fill every token is kept until S + M and the cache never shrinks. */
    public int rows() {
        if (eager) return (int) Math.min(seen, slots);
        int[] r = ringState(0);
        int n = r[2 * cascades];
        for (int c = 0; c < cascades; c++) n += r[cascades + c];
        return n;
    }

    /**
     * One stride: q [heads][n][headDim], k and v [kvHeads][n][headDim] bf16, un-rotated, at the given element
     * strides (v with k's). Returns the attention output's address: [heads][n][headDim] bf16, valid until the next call.
     */
    public long stride(long q, long qTok, long qHead, long k, long v, long kTok, long kHead, int n) {
        int rows = rows();
        gather(q, qTok, qHead, k, v, kTok, kHead, n, rows);
        attend(n, rows);
        if (scored) scoreSums(n, rows);
        update(k, v, kTok, kHead, n, rows, scored ? (float) Math.pow(beta, n) : 1f);
        return out.address();
    }

    /** Phase 1: held rows into attention order, rotated by cache position; the stride's rows after them. */
    public void gather(long q, long qTok, long qHead, long k, long v, long kTok, long kHead, int n, int rows) {
        if (n < 1 || n > maxStride) throw new IllegalArgumentException("stride of " + n + " tokens: must be 1.." + maxStride);
        int nk = rows + n;
        kernels.launch("cascade_gather_keys", (nk + 7) / 8, kvHeads, 256, 0, device.args()
                .ptr(keys).ptr(values).ptr(pos).ptr(ring).ptr(k).ptr(v).ptr(kAttn).ptr(vAttn).ptr(invFreq)
                .i32(sinks).i32(cascades).i32(width).i32(headDim).i32(kvHeads).i32(rows).i32(n)
                .i64(kTok).i64(kHead).i32(0).i32(neox ? 1 : 0).i32((int) seen));
        kernels.launch("rope_rows", (n + 7) / 8, heads, 256, 0, device.args()
                .ptr(q).ptr(qRot).ptr(invFreq).i32(n).i32(heads).i32(headDim).i64(qTok).i64(qHead).i32(rows)
                .i32(neox ? 1 : 0));
    }

    /** Phase 2: flash attention of the stride over the gathered rows. */
    public void attend(int n, int rows) {
        int nk = rows + n;
        attention.attention(FlashAttention.Tensor.packed(qRot.address(), n, headDim),
                FlashAttention.Tensor.packed(kAttn.address(), nk, headDim),
                FlashAttention.Tensor.packed(vAttn.address(), nk, headDim),
                FlashAttention.Tensor.packed(out.address(), n, headDim), false, lse.address(), n, nk, heads, kvHeads,
                headDim, (float) (1 / Math.sqrt(headDim)));
    }

    /** Phase 3: the §4 score sums of every gathered row (max over each group's query heads), as {@link #scoreSampling} says. */
    public void scoreSums(int n, int rows) {
        int nk = rows + n;
        // Full cache: attention order is sinks, then cascade C-1 oldest first, so its entries but the newest are
        // rows S .. S+W-2.
        boolean skip = skipSettled && rows == slots;
        attention.scoreSums(FlashAttention.Tensor.packed(qRot.address(), n, headDim),
                FlashAttention.Tensor.packed(kAttn.address(), nk, headDim), lse.address(), sums.address(), n, nk, heads,
                kvHeads, headDim, (float) (1 / Math.sqrt(headDim)), beta, false, scoreQueryStep, skip ? sinks : 0,
                skip ? sinks + width - 1 : 0);
    }

    /** Address of the stride's score sums, f32 [kvHeads][rows + n], after {@link #scoreSums}. */
    public long sumsAddress() {
        return sums.address();
    }

    /** Replaces the score sums of the stride in flight (tests feed known values): [kvHeads][rows + n] f32. */
    public void setScoreSums(float[] values, int count) {
        device.upload(values, 0, count, sums.address());
    }

    /** Phase 4: score EMA, then the stride's tokens into the cache (§2), then the K/V rows moved. */
    public void update(long k, long v, long kTok, long kHead, int n, int rows, float decay) {
        int sc = scored ? 1 : 0;
        kernels.launch("cascade_prepare", (slots + 255) / 256, kvHeads, 256, 0, device.args()
                .ptr(score).ptr(src).ptr(ring).ptr(sums).i32(sinks).i32(cascades).i32(width).i32(kvHeads).i32(rows)
                .i32(n).f32(decay).i32(sc));
        int maxC = cascades <= 4 ? 4 : cascades <= 8 ? 8 : 32;
        kernels.launch("cascade_update_c" + maxC, kvHeads, 1, 256, (cascades * (UPD_SUB + 1) * 3 + UPD_SUB) * 4,
                device.args().ptr(pos).ptr(score).ptr(src).ptr(ring).ptr(sums).i32(sinks).i32(cascades).i32(width)
                        .i32(kvHeads).i32(rows).i32(n).i32((int) seen).i32(sc).i32(eager ? 1 : 0));
        // Last cascade first: entries only move to later cascades, so each source row is read before it is overwritten.
        for (int level = cascades - 1; level >= -1; level--) {
            if (level < 0 && (sinks == 0 || seen >= sinks)) break;
            int count = level < 0 ? sinks : width;
            kernels.launch("cascade_move_rows", (count + 255) / 256, kvHeads, 256, 0, device.args()
                    .ptr(keys).ptr(values).ptr(src).ptr(k).ptr(v).i32(sinks).i32(cascades).i32(width).i32(headDim)
                    .i32(kvHeads).i32(level).i64(kTok).i64(kHead));
        }
        seen += n;
    }

    /** start[0..C-1], stored[C..2C-1], sinks held [2C] of KV head g (read back; waits for the device). */
    public int[] ringState(int g) {
        return downloadInts(ring.address() + (long) g * (2 * cascades + 1) * 4, 2 * cascades + 1);
    }

    /** Document positions held by cascade c of KV head g, oldest first (read back). */
    public int[] heldPositions(int g, int c) {
        int[] r = ringState(g);
        int[] p = downloadInts(pos.address() + (long) g * slots * 4, slots);
        int[] held = new int[r[cascades + c]];
        for (int i = 0; i < held.length; i++) held[i] = p[sinks + c * width + (r[c] + i) % width];
        return held;
    }

    /** Document positions of the sinks of KV head g (read back). */
    public int[] sinkPositions(int g) {
        int[] r = ringState(g);
        int[] p = downloadInts(pos.address() + (long) g * slots * 4, slots);
        return java.util.Arrays.copyOf(p, r[2 * cascades]);
    }

    private int[] downloadInts(long address, int count) {
        float[] f = new float[count];
        device.download(address, f, 0, count);
        int[] out = new int[count];
        for (int i = 0; i < count; i++) out[i] = Float.floatToRawIntBits(f[i]);
        return out;
    }

    @Override
    public void close() {
        for (DeviceBuffer b : new DeviceBuffer[]{keys, values, pos, score, src, ring, invFreq, kAttn, vAttn, sums, qRot, out, lse}) {
            b.close();
        }
        kernels.close();
    }
}
