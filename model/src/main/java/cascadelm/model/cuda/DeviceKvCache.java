package cascadelm.model.cuda;

import cascadelm.kernels.AttentionScores;
import cascadelm.kernels.cuda.CudaBackend;
import cascadelm.kernels.cuda.CudaDevice;
import cascadelm.kernels.cuda.DeviceBuffer;
import cascadelm.kernels.cuda.KernelArgs;
import cascadelm.kernels.cuda.KernelModule;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.cache.KvCache;
import cascadelm.model.cache.RowStorage;

import java.lang.ref.Cleaner;
import java.util.Arrays;

/**
 * A KV cache of any policy held entirely in device memory, updated entirely by kernels: the policies are all the
 * cascading cache of cascade-spec.md and its special cases (§6): window = one cascade, no sinks; sink = one
 * cascade with sinks; full = one ring without sinks that never wraps (grown before it would). Keys (un-rotated)
 * and values are bf16; every slot's document position and score EMA, and each ring's start and count, live
 * beside them; the updates (score EMA, acceptance, eviction, selection, row moves) are the kernels of
 * {@code cascade_cache.cu}, launched once per chunk for all layers together. The host keeps only the number of
 * tokens seen; what the next chunk needs (rows held, positions) is the step block on the device, which the
 * kernels read and the update advances, so a decode step can be replayed as a graph.
 *
 * <p>Layout per layer l and KV head g (lh = l·G + g), Z = S + C·W slots: keys, values [lh][Z][D] bf16; pos, score,
 * src [lh][Z]; ring [lh][2C + 1] (start[C], stored[C], sinks held). Memory is fixed by the settings for the bounded
 * policies, whatever the document length ({@link #bytes}).
 */
public final class DeviceKvCache implements KvCache {
    /** The update keeps C·3·1025 + 1024 slot entries of shared memory per block: this many cascades fit in 227 KiB. */
    static final int MAX_CASCADES = 18;
    private static final int UPD_SUB = 1024;
    private static final int STEP_INTS = 4;
    private static final Object MODULE_KEY = new Object();
    private static final Cleaner CLEANER = Cleaner.create();

    private final CudaBackend backend;
    private final KernelModule kernels;
    final int layers, kvHeads, heads, headDim, sinks, cascades;
    final boolean full, scored, eager, meanReduction, originalPositions;
    final double beta;
    private final String description;
    private int width;
    private long seen;
    private int version;
    private final State state;
    private final Cleaner.Cleanable cleanable;

    /** The device memory, freed when the cache is released or becomes unreachable. */
    private static final class State implements Runnable {
        DeviceBuffer keys, values, pos, score, src, ring, step;

        DeviceBuffer[] all() {
            return new DeviceBuffer[]{keys, values, pos, score, src, ring, step};
        }

        @Override
        public void run() {
            for (DeviceBuffer b : all()) if (b != null) b.close();
        }
    }

    private DeviceKvCache(CudaBackend backend, int layers, int kvHeads, int heads, int headDim, int sinks, int cascades,
                          int width, boolean full, boolean scored, boolean eager, boolean meanReduction,
                          boolean originalPositions, double beta, String description) {
        if (cascades > MAX_CASCADES) {
            throw new IllegalArgumentException("--cascades " + cascades + ": the CUDA cache update handles at most "
                    + MAX_CASCADES + " (shared memory); use fewer cascades or the CPU backend");
        }
        this.backend = backend;
        this.kernels = backend.resident(MODULE_KEY, () -> KernelModule.load(backend.device(), "cascade_cache", null));
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.heads = heads;
        this.headDim = headDim;
        this.sinks = sinks;
        this.cascades = cascades;
        this.width = width;
        this.full = full;
        this.scored = scored;
        this.eager = eager;
        this.meanReduction = meanReduction;
        this.originalPositions = originalPositions;
        this.beta = beta;
        this.description = description;
        this.state = new State();
        this.cleanable = CLEANER.register(this, state);
    }

    /** A cache for the settings, for a model of the given shape; {@code expectedTokens} sizes the full cache first. */
    public static DeviceKvCache create(CudaBackend backend, CacheSettings s, int layers, int heads, int kvHeads,
                                       int headDim, int expectedTokens) {
        boolean original = s.positions() == CacheSettings.Positions.ORIGINAL;
        DeviceKvCache c = switch (s.policy()) {
            case FULL -> new DeviceKvCache(backend, layers, kvHeads, heads, headDim, 0, 1, Math.max(16, expectedTokens),
                    true, false, false, false, original, s.emaBeta(), "full");
            case WINDOW -> new DeviceKvCache(backend, layers, kvHeads, heads, headDim, 0, 1, s.size(), false, false,
                    false, false, original, s.emaBeta(), "window(M=" + s.size() + ")");
            case SINK -> new DeviceKvCache(backend, layers, kvHeads, heads, headDim, s.sinks(), 1, s.size(), false, false,
                    false, false, original, s.emaBeta(), "sink(S=" + s.sinks() + ",M=" + s.size() + ")");
            case CASCADE -> {
                boolean byScore = s.selection() == CacheSettings.Selection.SCORE;
                int w = s.size() / s.cascades();
                yield new DeviceKvCache(backend, layers, kvHeads, heads, headDim, s.sinks(), s.cascades(), w, false,
                        byScore, s.eagerFill(), s.headReduction() == CacheSettings.HeadReduction.MEAN, original,
                        s.emaBeta(), "cascade(S=" + s.sinks() + ",C=" + s.cascades() + ",W=" + w
                        + (byScore ? ",score" : ",stride") + ")");
            }
        };
        try {
            c.allocate(c.width);
            c.clear();
        } catch (RuntimeException e) {
            c.release();
            throw e;
        }
        return c;
    }

    private CudaDevice device() {
        return backend.device();
    }

    public CudaBackend backend() {
        return backend;
    }

    /** Slots per layer and KV head: S + C·W. */
    public int slots() {
        return sinks + cascades * width;
    }

    public int width() {
        return width;
    }

    /** Changes whenever the buffers move (the full cache grew): launches captured before must be made again. */
    public int version() {
        return version;
    }

    private int groups() {
        return layers * kvHeads;
    }

    private void allocate(int w) {
        long z = (long) groups() * (sinks + (long) cascades * w);
        CudaDevice d = device();
        state.keys = d.alloc(z * headDim * 2);
        state.values = d.alloc(z * headDim * 2);
        state.pos = d.alloc(z * 4);
        state.score = d.alloc(z * 4);
        state.src = d.alloc(z * 4);
        if (state.ring == null) state.ring = d.alloc((long) groups() * (2 * cascades + 1) * 4);
        if (state.step == null) state.step = d.alloc(STEP_INTS * 4);
    }

    private void clear() {
        CudaDevice d = device();
        long z = (long) groups() * slots();
        d.fill32(state.keys.address(), 0, z * headDim / 2);
        d.fill32(state.values.address(), 0, z * headDim / 2);
        d.fill32(state.pos.address(), -1, z);
        d.fill32(state.score.address(), 0, z);
        d.fill32(state.ring.address(), 0, (long) groups() * (2 * cascades + 1));
        d.fill32(state.step.address(), 0, STEP_INTS);
    }

    public long keys(int layer) {
        return state.keys.address() + 2L * layer * kvHeads * slots() * headDim;
    }

    public long values(int layer) {
        return state.values.address() + 2L * layer * kvHeads * slots() * headDim;
    }

    public long positionsAddress(int layer) {
        return state.pos.address() + 4L * layer * kvHeads * slots();
    }

    public long ring(int layer) {
        return state.ring.address() + 4L * layer * kvHeads * (2 * cascades + 1);
    }

    /** The step block: rows held, rotary position of the next token, tokens seen, token id (int each). */
    public long step() {
        return state.step.address();
    }

    /**
     * Makes room for {@code n} more tokens: only the full cache grows (by half, at least to fit), keeping every row;
     * the bounded policies never need more.
     */
    public void reserve(int n) {
        if (!full || seen + n <= width) return;
        int grown = (int) Math.min(Integer.MAX_VALUE / Math.max(1, headDim), Math.max(seen + n, width * 3L / 2));
        State old = new State();
        old.keys = state.keys;
        old.values = state.values;
        old.pos = state.pos;
        old.score = state.score;
        old.src = state.src;
        int oldWidth = width;
        allocate(grown);
        CudaDevice d = device();
        long z = (long) groups() * grown;
        d.fill32(state.pos.address(), -1, z);
        d.fill32(state.score.address(), 0, z);
        long rows = seen;   // the full cache holds every token, ring index = document index
        for (int lh = 0; lh < groups(); lh++) {
            d.copy(state.keys.address() + 2L * lh * grown * headDim, old.keys.address() + 2L * lh * oldWidth * headDim, 2 * rows * headDim);
            d.copy(state.values.address() + 2L * lh * grown * headDim, old.values.address() + 2L * lh * oldWidth * headDim, 2 * rows * headDim);
            d.copy(state.pos.address() + 4L * lh * grown, old.pos.address() + 4L * lh * oldWidth, 4 * rows);
        }
        width = grown;
        version++;
        old.run();
    }

    /**
     * Queues the chunk's entry into the cache for every layer (nothing waits): score EMA and §2 insertion
     * (cascade_prepare_step, cascade_update_step), the K/V rows moved level by level, and the step block advanced.
     *
     * @param kNew, vNew the chunk's un-rotated bf16 rows, [layer][g][token][D]
     * @param sums       the chunk's reduced score sums [layer][g][rows + n] (f32), or 0 when the policy scores nothing
     */
    public void enqueueUpdate(long kNew, long vNew, long sums, int n) {
        int lh = groups(), z = slots();
        int sc = scored ? 1 : 0;
        float decay = scored ? (float) Math.pow(beta, n) : 1f;
        CudaDevice d = device();
        kernels.launch("cascade_prepare_step", (z + 255) / 256, lh, 256, 0, d.args().ptr(state.score).ptr(state.src)
                .ptr(state.ring).ptr(scored ? sums : 0).i32(sinks).i32(cascades).i32(width).i32(lh).ptr(state.step)
                .i32(n).f32(decay).i32(sc));
        int maxC = cascades <= 4 ? 4 : cascades <= 8 ? 8 : 32;
        kernels.launch("cascade_update_step_c" + maxC, lh, 1, 256, (cascades * (UPD_SUB + 1) * 3 + UPD_SUB) * 4,
                d.args().ptr(state.pos).ptr(state.score).ptr(state.src).ptr(state.ring).ptr(scored ? sums : 0)
                        .i32(sinks).i32(cascades).i32(width).i32(lh).ptr(state.step).i32(n).i32(sc).i32(eager ? 1 : 0));
        // Last cascade first: entries only move to later cascades, so each source row is read before it is overwritten.
        for (int level = cascades - 1; level >= (sinks > 0 ? -1 : 0); level--) {
            int count = level < 0 ? sinks : width;
            kernels.launch("cascade_move_rows", (count + 255) / 256, lh, 256, 0, d.args().ptr(state.keys)
                    .ptr(state.values).ptr(state.src).ptr(kNew).ptr(vNew).i32(sinks).i32(cascades).i32(width)
                    .i32(headDim).i32(lh).i32(level).i64(headDim).i64((long) n * headDim));
        }
        d.launch("cache_step_advance", 1, 1, 32, 0, d.args().ptr(state.step).ptr(state.ring).i32(cascades).i32(n)
                .i32(originalPositions ? 1 : 0));
    }

    /** Counts the chunk whose update was queued (the host's only bookkeeping). */
    public void advance(int n) {
        seen += n;
    }

    /**
     * Held rows of one layer laid out for the flash kernel: [g][rows + n][D] bf16 in attention order, keys rotated
     * (at their rank, or their document position), the chunk's rows ({@code kNew}, [g][n][D]) last (cascade_gather_keys).
     */
    public void gather(int layer, long kNew, long vNew, int n, int rows, long kOut, long vOut, long invFreq, boolean neox) {
        CudaDevice d = device();
        int nk = rows + n;
        kernels.launch("cascade_gather_keys", (nk + 7) / 8, kvHeads, 256, 0, d.args().ptr(keys(layer)).ptr(values(layer))
                .ptr(positionsAddress(layer)).ptr(ring(layer)).ptr(kNew).ptr(vNew).ptr(kOut).ptr(vOut).ptr(invFreq)
                .i32(sinks).i32(cascades).i32(width).i32(headDim).i32(kvHeads).i32(rows).i32(n).i64(headDim)
                .i64((long) n * headDim).i32(originalPositions ? 1 : 0).i32(neox ? 1 : 0).i32((int) seen));
    }

    /** Queries x (element (h, j, d) at h·xHead + j·xTok + d, bf16) rotated at pos0 + j into [h][n][D] (rope_rows). */
    public void rotateQueries(long x, long xOut, long invFreq, int n, long xTok, long xHead, int pos0, boolean neox) {
        CudaDevice d = device();
        KernelArgs a = d.args().ptr(x).ptr(xOut).ptr(invFreq).i32(n).i32(heads).i32(headDim).i64(xTok).i64(xHead)
                .i32(pos0).i32(neox ? 1 : 0);
        kernels.launch("rope_rows", (n + 7) / 8, heads, 256, 0, a);
    }

    private int[] readStep() {
        return readInts(state.step.address(), STEP_INTS);
    }

    private int[] readInts(long address, int count) {
        float[] f = new float[count];
        device().download(address, f, 0, count);
        int[] out = new int[count];
        for (int i = 0; i < count; i++) out[i] = Float.floatToRawIntBits(f[i]);
        return out;
    }

    /** Rows held (read from the device: waits for queued work). */
    @Override
    public int rows() {
        return readStep()[0];
    }

    @Override
    public int nextPosition() {
        return readStep()[1];
    }

    @Override
    public long tokensSeen() {
        return seen;
    }

    @Override
    public boolean originalPositions() {
        return originalPositions;
    }

    /** Document positions of one layer and KV head's rows in attention order (read back; for tests and tools). */
    public int[] documentPositions(int layer, int kvHead) {
        int[] p = readInts(positionsAddress(layer) + 4L * kvHead * slots(), slots());
        int[] slots = slotsInAttentionOrder(layer, kvHead);
        int[] out = new int[slots.length];
        for (int i = 0; i < slots.length; i++) out[i] = p[slots[i]];
        return out;
    }

    /** The slots of one layer and KV head's rows, in attention order: sinks, then cascades C-1 .. 0, oldest first. */
    private int[] slotsInAttentionOrder(int layer, int kvHead) {
        int[] r = readInts(ring(layer) + 4L * kvHead * (2 * cascades + 1), 2 * cascades + 1);
        int[] out = new int[slots()];
        int at = 0;
        for (int i = 0; i < r[2 * cascades]; i++) out[at++] = i;
        for (int c = cascades - 1; c >= 0; c--) {
            for (int i = 0; i < r[cascades + c]; i++) out[at++] = sinks + c * width + (r[c] + i) % width;
        }
        return Arrays.copyOf(out, at);
    }

    /**
     * One layer and KV head's key rows (un-rotated) or value rows in attention order, [rank][headDim], the stored
     * bf16 values as floats (read back; for tests).
     */
    float[] rowsInAttentionOrder(int layer, int kvHead, boolean values) {
        int[] slots = slotsInAttentionOrder(layer, kvHead);
        float[] words = new float[slots() * headDim / 2];
        long base = (values ? state.values : state.keys).address() + 2L * (layer * kvHeads + kvHead) * slots() * headDim;
        device().download(base, words, 0, words.length);
        float[] out = new float[slots.length * headDim];
        for (int j = 0; j < slots.length; j++) {
            for (int e = 0; e < headDim; e++) {
                int bits = Float.floatToRawIntBits(words[(slots[j] * headDim + e) / 2]);
                out[j * headDim + e] = Float.intBitsToFloat(e % 2 == 0 ? bits << 16 : bits & 0xFFFF0000);
            }
        }
        return out;
    }

    /** Document positions held by cascade c of one layer and KV head, oldest first (read back). */
    public int[] heldPositions(int layer, int kvHead, int c) {
        int[] r = readInts(ring(layer) + 4L * kvHead * (2 * cascades + 1), 2 * cascades + 1);
        int[] p = readInts(positionsAddress(layer) + 4L * kvHead * slots(), slots());
        int[] held = new int[r[cascades + c]];
        for (int i = 0; i < held.length; i++) held[i] = p[sinks + c * width + (r[c] + i) % width];
        return held;
    }

    /** Score EMAs of cascade c's entries of one layer and KV head, oldest first, as {@link #heldPositions} (read back). */
    public float[] heldScores(int layer, int kvHead, int c) {
        int[] r = readInts(ring(layer) + 4L * kvHead * (2 * cascades + 1), 2 * cascades + 1);
        float[] all = new float[slots()];
        device().download(state.score.address() + 4L * (layer * kvHeads + kvHead) * slots(), all, 0, all.length);
        float[] held = new float[r[cascades + c]];
        for (int i = 0; i < held.length; i++) held[i] = all[sinks + c * width + (r[c] + i) % width];
        return held;
    }

    /** Document positions of the sinks of one layer and KV head (read back). */
    public int[] sinkPositions(int layer, int kvHead) {
        int[] r = readInts(ring(layer) + 4L * kvHead * (2 * cascades + 1), 2 * cascades + 1);
        int[] p = readInts(positionsAddress(layer) + 4L * kvHead * slots(), slots());
        return Arrays.copyOf(p, r[2 * cascades]);
    }

    /** Bytes of device memory the cache state holds: rows, positions, scores, ring state (constant for bounded policies). */
    @Override
    public long bytes() {
        long b = 0;
        for (DeviceBuffer x : state.all()) b += x.bytes();
        return b;
    }

    @Override
    public KvCache copy() {
        DeviceKvCache c = new DeviceKvCache(backend, layers, kvHeads, heads, headDim, sinks, cascades, width, full,
                scored, eager, meanReduction, originalPositions, beta, description);
        try {
            c.allocate(width);
            for (int i = 0; i < 7; i++) {
                DeviceBuffer from = state.all()[i], to = c.state.all()[i];
                device().copy(to.address(), from.address(), from.bytes());
            }
        } catch (RuntimeException e) {
            c.release();
            throw e;
        }
        c.seen = seen;
        return c;
    }

    @Override
    public void release() {
        cleanable.clean();
    }

    @Override
    public String describe() {
        return description;
    }

    // ---- the host-row protocol of KvCache: not for a cache whose rows never leave the device -----------------

    private UnsupportedOperationException hostOnly(String what) {
        return new UnsupportedOperationException(what + ": the device cache's rows and bookkeeping stay on the GPU;"
                + " use it through the CUDA session (ModelSessions.open with the same backend)");
    }

    @Override
    public void positions(int layer, int kvHead, int[] out) {
        throw hostOnly("positions");
    }

    @Override
    public int[] attentionOrder() {
        throw hostOnly("attentionOrder");
    }

    @Override
    public RowStorage storage() {
        throw hostOnly("storage");
    }

    @Override
    public AttentionScores scoreRequest(int layer, int n) {
        throw hostOnly("scoreRequest");
    }

    @Override
    public void append(int layer, int n) {
        throw hostOnly("append");
    }

    @Override
    public void commit(int n) {
        throw hostOnly("commit");
    }
}
