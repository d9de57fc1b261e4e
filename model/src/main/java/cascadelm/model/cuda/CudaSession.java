package cascadelm.model.cuda;

import cascadelm.kernels.Rope;
import cascadelm.kernels.cuda.CudaBackend;
import cascadelm.kernels.cuda.CudaDevice;
import cascadelm.kernels.cuda.CudaException;
import cascadelm.kernels.cuda.CudaGraph;
import cascadelm.kernels.cuda.CudaKernels;
import cascadelm.kernels.cuda.DeviceBuffer;
import cascadelm.kernels.cuda.DeviceCascadeCache;
import cascadelm.kernels.cuda.FlashAttention;
import cascadelm.model.cache.KvCache;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelConfig;
import cascadelm.model.llama.ModelSession;

import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The forward pass on one GPU: weights resident (uploaded once per model and backend), activations and the KV
 * cache ({@link DeviceKvCache}: rows, bookkeeping and its updates) in device memory; only token ids go in and
 * logits come out.
 *
 * <p>A chunk of n tokens: per layer RMSNorm, the fused QKV product, q/k/v split (bias, rotary for q, k and v
 * rounded to bf16 for the cache), attention over the cache plus the chunk, the output product added to the
 * residual, RMSNorm, the fused gate|up product, SwiGLU, the down product added to the residual; then the chunk
 * enters the cache of every layer (score EMA, acceptance, eviction, row moves: kernels). Chunk attention runs the
 * tensor-core flash kernel (head dimensions 64 and 128) with the exact §4 score sums from its second pass (none
 * for the settled entries, {@link #skipSettledScores}); other head dimensions run the split-K kernel of decode.cu.
 *
 * <p>Decoding (one token, last logits only) is one CUDA graph, captured on first use and replayed per token:
 * embedding, per layer the norm-fused QKV product, attention over the cache in one kernel (the q/k/v split folded
 * in, SplitKAttention#decode), the output product, the norm-fused gate|up product with SwiGLU, the down product;
 * the output product and its argmax; the cache update. Its kernels read what changes per token (token id, rows
 * held, positions) from the cache's step block, and the argmax writes the greedy token there, so greedy decoding
 * ({@link #decodeGreedy}) costs the host one graph launch and a 4-byte read per token; {@link #forward} downloads
 * the logits instead. Q8_0 products round their input to int8 (dp4a; CudaKernels#decodeMatvec).
 *
 * <p>That is decode version 10, opt-in ({@code -Dcascadelm.cuda.decode=v10}, {@link CudaDevice#DECODE_V10}) until it
 * has passed the GPU tests on a GPU. By default ({@link #legacyDecode}) the graph runs version 9's kernels, measured
 * and tested on the H200: a separate q/k/v split, the split-K attention and its merge as two launches, float32
 * activations, and the host takes the argmax of the downloaded logits.
 */
public final class CudaSession implements ModelSession {
    private static final Object FLASH_KEY = new Object();
    /** Positions the rotary table covers at most (256 MiB at 64 pairs); beyond, kernels form the angles themselves. */
    private static final int ROPE_TABLE_MAX_POSITIONS = 1 << 19;
    /** Keys per split of the split-K attention, about (a block's four warps take four keys each at a time). */
    private static final int KEYS_PER_SPLIT = 64, MAX_SPLITS = 64;
    /** Most splits of the decode attention (decode.cu's AK_MAX_SPLITS); a block's 8 warps take 8 keys each at once. */
    private static final int DECODE_MAX_SPLITS = 128;
    private static final Cleaner CLEANER = Cleaner.create();

    private final CudaBackend backend;
    private final CudaDevice device;
    private final CudaKernels k;
    private final DeviceModel weights;
    private final ModelConfig c;
    private final int maxChunk, group;
    private final Rope rope;
    private final FlashAttention flash;   // null: head dimension other than 64 or 128
    private final float scale;
    private DeviceKvCache cache;
    private boolean useGraph = true, timeSteps, skipSettled = true, legacyDecode, overlap;
    private double stepMillis;
    private int timedSteps;
    private Set<Phase> phases = EnumSet.allOf(Phase.class);

    /** The kernels of a decode step by what they do, for {@link #profileDecode}. */
    public enum Phase { EMBEDDING, QKV_PRODUCT, QKV_SPLIT, ATTENTION, OUTPUT_PRODUCT, GATE_UP_SWIGLU, DOWN_PRODUCT, LOGITS,
        CACHE_UPDATE }

    private final DeviceBuffer tokens, x, xb, qkv, qRot, qHalf, qFlash, att, gateUp, hb, logits, kRaw, vRaw, byQuery,
            byDistance, lse, stats, oneWeight, argmaxScratch, tokenOut, decodeCounters;
    private DeviceBuffer kAttn, vAttn, sums, raw, partial, decodePartial, allLogits, ropeCos, ropeSin;
    private int keyCapacity, splits, decodeSplits, ropePositions, buffersVersion;
    private final int[] tokenHost = new int[1], tokenBack = new int[1];
    /**
     * The cache whose step block holds, as the next token, the greedy token of its last decode step (written there by
     * the graph's argmax), with its tokens seen then and that token: a greedy step that feeds it back skips the upload.
     */
    private DeviceKvCache tokenCache;
    private long tokenCacheSeen;
    private int tokenOnDevice;
    /** The EMA β whose single-query §4 weight (1 − β) oneWeight holds (a new cache may have another). */
    private double oneWeightBeta = Double.NaN;
    private final float[] hostLogits;
    private final Owned owned = new Owned();
    private final Cleaner.Cleanable cleanable;

    /** What a captured decode graph depends on: the cache's buffers and this session's, and the kernels chosen. */
    private record GraphKey(DeviceKvCache cache, int cacheVersion, int buffersVersion, boolean legacy, boolean overlap) {
    }

    /** Every buffer this session allocated: freed by {@link #close}, or when the session becomes unreachable. */
    private static final class Owned implements Runnable {
        final List<DeviceBuffer> buffers = new ArrayList<>();
        /** Captured decode graphs by what they depend on (one per kernel choice, for A/B runs that alternate). */
        final Map<GraphKey, CudaGraph> graphs = new HashMap<>();

        @Override
        public void run() {
            graphs.values().forEach(CudaGraph::close);
            graphs.clear();
            buffers.forEach(DeviceBuffer::close);
            buffers.clear();
        }
    }

    private DeviceBuffer own(DeviceBuffer b) {
        owned.buffers.add(b);
        return b;
    }

    private void free(DeviceBuffer b) {
        if (b == null) return;
        owned.buffers.remove(b);
        b.close();
    }

    public CudaSession(LlamaModel model, CudaBackend backend, KvCache cache, int maxChunk) {
        if (maxChunk < 1) throw new IllegalArgumentException("chunk size must be at least 1, got " + maxChunk);
        this.backend = backend;
        this.device = backend.device();
        this.k = backend.kernels();
        this.c = model.config();
        this.maxChunk = maxChunk;
        this.rope = model.weights().rope();
        int hd = c.headDim();
        if (hd > 256 || hd % 8 != 0) {
            throw new IllegalArgumentException("head dimension " + hd + ": the CUDA kernels need a multiple of 8 up to 256");
        }
        if (rope.rotaryDims() != hd) {
            throw new IllegalArgumentException("rotary dimensions " + rope.rotaryDims() + " below the head dimension " + hd
                    + ": partial rotary embedding is not supported on CUDA; use --backend cpu");
        }
        this.group = c.heads() / c.kvHeads();
        if (group > 8) throw new IllegalArgumentException(group + " query heads per KV head: the CUDA attention takes at most 8");
        this.scale = (float) (1.0 / Math.sqrt(hd));
        this.flash = hd == 64 || hd == 128
                ? backend.resident(FLASH_KEY, () -> new FlashAttention(device, null)) : null;
        this.legacyDecode = !CudaDevice.DECODE_V10;   // version 9 until version 10 has run on a GPU
        this.overlap = device.canOverlapLaunches();
        setCache(cache);
        this.weights = DeviceModel.of(backend, model);
        this.cleanable = CLEANER.register(this, owned);
        long m = maxChunk;
        tokens = own(device.alloc(4 * m));
        x = own(device.allocFloats(m * c.dim()));
        xb = own(device.allocFloats(m * Math.max(c.dim(), c.qDim())));
        qkv = own(device.allocFloats(m * (c.qDim() + 2L * c.kvDim())));
        qRot = own(device.allocFloats(m * c.qDim()));
        qHalf = own(device.alloc(2 * m * c.qDim()));
        qFlash = own(device.alloc(2 * m * c.qDim()));
        att = own(device.allocFloats(m * c.qDim()));
        gateUp = own(device.allocFloats(m * 2L * c.ffnDim()));
        hb = own(device.allocFloats(m * c.ffnDim()));
        kRaw = own(device.alloc(2L * c.layers() * m * c.kvDim()));
        vRaw = own(device.alloc(2L * c.layers() * m * c.kvDim()));
        logits = own(device.allocFloats(c.vocabularySize()));
        byQuery = own(device.allocFloats(m));
        byDistance = own(device.allocFloats(m));
        lse = own(device.allocFloats((long) c.heads() * m));
        stats = own(device.allocFloats(2L * c.heads() * m));
        oneWeight = own(device.allocFloats(1));
        argmaxScratch = own(device.alloc(16));
        tokenOut = own(device.alloc(4));
        decodeCounters = own(device.alloc(4L * c.kvHeads()));
        device.fill32(argmaxScratch.address(), 0, 4);
        device.fill32(decodeCounters.address(), 0, c.kvHeads());
        hostLogits = new float[c.vocabularySize()];
    }

    @Override
    public KvCache cache() {
        return cache;
    }

    @Override
    public void setCache(KvCache cache) {
        if (!(cache instanceof DeviceKvCache d) || d.backend() != backend) {
            throw new IllegalArgumentException("the CUDA session needs a cache on " + backend.name()
                    + " (made by ModelSessions.cache); this one is " + cache.getClass().getSimpleName());
        }
        if (d.layers != c.layers() || d.kvHeads != c.kvHeads() || d.headDim != c.headDim() || d.heads != c.heads()) {
            throw new IllegalArgumentException("the cache was made for another model shape");
        }
        this.cache = d;
        tokenCache = null;
    }

    @Override
    public int maxChunk() {
        return maxChunk;
    }

    /** Whether decoding replays a captured graph (default) or launches the same kernels one by one (for A/B timing). */
    public void useGraph(boolean on) {
        this.useGraph = on;
    }

    /**
     * With {@code on} (the default unless {@code -Dcascadelm.cuda.decode=v10}, see {@link CudaDevice#DECODE_V10}),
     * decoding runs version 9's kernels, also for A/B timing: the q/k/v split,
     * the split-K attention and its merge as two launches, Q8_0 products on float32 activations, no argmax on the
     * device ({@link #decodeGreedy} downloads the logits and takes the argmax on the host).
     */
    public void legacyDecode(boolean on) {
        this.legacyDecode = on;
    }

    /**
     * Whether the decode step's kernels are launched overlapping (programmatic dependent launch: each starts while
     * its predecessor drains and fetches its weights into L2 meanwhile; CudaDevice#launchOverlapping). On by
     * default where the device can (Hopper); off for A/B timing. The previous version's kernels never overlap.
     */
    public void overlapLaunches(boolean on) {
        this.overlap = on && device.canOverlapLaunches();
    }

    /** Whether decode steps are launched overlapping now (see {@link #overlapLaunches}). */
    public boolean overlapsLaunches() {
        return overlap;
    }

    /**
     * Whether chunk score sums leave out the settled entries (default): once the cache is full, the entries of the
     * last cascade other than its newest are never compared again (cascade-spec §2: they only age out), so their
     * sums are not computed and their stored scores stop changing; the cache keeps exactly the same tokens
     * ({@link DeviceCascadeCache#scoreSampling}'s exact saving). Off: every held row's sum (for A/B checks).
     */
    public void skipSettledScores(boolean on) {
        this.skipSettled = on;
    }

    /** With {@code on}, each decode step's device time is measured (two events around the graph replay). */
    public void timeSteps(boolean on) {
        this.timeSteps = on;
        stepMillis = 0;
        timedSteps = 0;
    }

    /** Mean device milliseconds of the decode steps timed since {@link #timeSteps} was turned on. */
    public double meanStepMillis() {
        return timedSteps == 0 ? Double.NaN : stepMillis / timedSteps;
    }

    /**
     * Device microseconds per token of each phase of the decode step, each captured alone as a graph and replayed
     * {@code reps} times. The cache update is profiled only for the bounded policies, and its replays add tokens the
     * host does not count: release the cache after (a full cache would overflow, so its update is left out).
     * Call after at least one decode step.
     */
    public Map<Phase, Double> profileDecode(int reps) {
        Map<Phase, Double> out = new EnumMap<>(Phase.class);
        device.makeCurrent();
        tokenCache = null;   // the replays leave other values in the step block
        try {
            for (Phase p : Phase.values()) {
                if (p == Phase.CACHE_UPDATE && cache.full) continue;
                if (p == Phase.QKV_SPLIT && !legacyDecode) continue;   // folded into the attention kernel
                phases = EnumSet.of(p);
                try (CudaGraph g = CudaGraph.capture(device, this::decodeStepLaunches)) {
                    g.launch();
                    float ms = device.time(() -> {
                        for (int i = 0; i < reps; i++) g.launch();
                    });
                    out.put(p, 1e3 * ms / reps);
                }
            }
        } finally {
            phases = EnumSet.allOf(Phase.class);
        }
        return out;
    }

    private boolean on(Phase p) {
        return phases.contains(p);
    }

    @Override
    public float[] forward(int[] tokenIds, int offset, int n, float[] allOut) {
        if (n < 1 || n > maxChunk) throw new IllegalArgumentException("chunk of " + n + " tokens, limit " + maxChunk);
        for (int i = 0; i < n; i++) checkToken(tokenIds[offset + i]);
        prepare(n);
        tokenCache = null;
        if (n == 1 && allOut == null) {
            decode(tokenIds[offset], true);
            device.download(logits.address(), hostLogits, 0, c.vocabularySize());
            return hostLogits;
        }
        return chunk(tokenIds, offset, n, allOut);
    }

    /**
     * One token through the decode graph; returns its greedy successor (the lowest id among the largest logits, as
     * Sampler.argmax), taken on the device: only 4 bytes come back. Fed back as the next token, it is already in the
     * step block, so that step uploads nothing.
     */
    @Override
    public int decodeGreedy(int token) {
        checkToken(token);
        prepare(1);
        if (legacyDecode) {   // the earlier path: logits to the host, argmax there
            tokenCache = null;
            decode(token, true);
            device.download(logits.address(), hostLogits, 0, c.vocabularySize());
            int best = 0;
            for (int i = 1; i < hostLogits.length; i++) if (hostLogits[i] > hostLogits[best]) best = i;
            return best;
        }
        boolean there = tokenCache == cache && tokenCacheSeen == cache.tokensSeen() && tokenOnDevice == token;
        decode(token, !there);
        device.download(tokenOut.address(), tokenBack, 0, 1);
        tokenCache = cache;
        tokenCacheSeen = cache.tokensSeen();
        tokenOnDevice = tokenBack[0];
        return tokenBack[0];
    }

    private void checkToken(int token) {
        int vocab = c.vocabularySize();
        if (token < 0 || token >= vocab) {
            throw new IllegalArgumentException("token id " + token + " is outside the vocabulary [0, " + vocab + ")");
        }
    }

    /** Room for n more tokens in the cache, the rotary table and the key buffers. */
    private void prepare(int n) {
        device.makeCurrent();
        cache.reserve(n);
        ensureRopeTable((int) Math.min(Integer.MAX_VALUE, cache.tokensSeen() + n));
        ensureKeyBuffers(cache.slots() + maxChunk);
    }

    // ---- decoding -----------------------------------------------------------------------------------------

    /** Queues one decode step of {@code token} (uploaded to the step block when {@code upload}) and counts it. */
    private void decode(int token, boolean upload) {
        if (cache.beta != oneWeightBeta) {   // in place: a captured graph reads the value at its address
            device.upload(new float[]{(float) (1 - cache.beta)}, 0, 1, oneWeight.address());
            oneWeightBeta = cache.beta;
        }
        if (upload) {
            tokenHost[0] = token;
            device.upload(tokenHost, 0, 1, cache.step() + 12);
        }
        if (useGraph) {
            GraphKey key = new GraphKey(cache, cache.version(), buffersVersion, legacyDecode, overlap);
            CudaGraph graph = owned.graphs.get(key);
            if (graph == null) {
                // Graphs of another cache or of replaced buffers read freed or foreign memory: dropped.
                owned.graphs.entrySet().removeIf(e -> {
                    GraphKey k = e.getKey();
                    boolean stale = k.cache() != cache || k.cacheVersion() != cache.version()
                            || k.buffersVersion() != buffersVersion;
                    if (stale) e.getValue().close();
                    return stale;
                });
                try {
                    graph = CudaGraph.capture(device, this::decodeStepLaunches);
                } catch (CudaException e) {
                    if (!overlap || legacyDecode) throw e;
                    // A driver that refuses programmatic dependent launch in a captured graph: the plain launches.
                    System.err.println("cascade-lm: overlapping decode launches refused (" + e.getMessage()
                            + "); decoding with plain launches");
                    overlap = false;
                    key = new GraphKey(cache, cache.version(), buffersVersion, legacyDecode, false);
                    graph = owned.graphs.get(key);
                    if (graph == null) graph = CudaGraph.capture(device, this::decodeStepLaunches);
                }
                owned.graphs.put(key, graph);
            }
            if (timeSteps) {
                CudaGraph g = graph;
                stepMillis += device.time(g::launch);
                timedSteps++;
            } else {
                graph.launch();
            }
        } else {
            decodeStepLaunches();
        }
        cache.advance(1);
    }

    /** The decode step's launches, overlapping where {@link #overlapLaunches} says so. */
    private void decodeStepLaunches() {
        device.overlapLaunches(overlap && !legacyDecode);
        try {
            decodeStep();
        } finally {
            device.overlapLaunches(false);
        }
    }

    /** One token through the model, queued only (captured into the graph): nothing here may wait or allocate. */
    private void decodeStep() {
        long step = cache.step();
        float eps = c.rmsEps();
        boolean int8 = !legacyDecode;
        if (on(Phase.EMBEDDING)) k.embed(weights.embedding, step + 12, 1, x.address());
        for (int l = 0; l < c.layers(); l++) {
            DeviceModel.Layer lw = weights.layers.get(l);
            if (on(Phase.QKV_PRODUCT)) {
                if (lw.qkv().parts().size() == 1) {
                    k.decodeMatvec(lw.qkv().parts().getFirst(), x.address(), lw.attentionNorm().address(), eps,
                            qkv.address(), false, int8);
                } else {
                    k.rmsNorm(x.address(), lw.attentionNorm().address(), xb.address(), 1, c.dim(), eps);
                    lw.qkv().run(k, xb.address(), 1, qkv.address());
                }
            }
            if (legacyDecode) {
                if (on(Phase.QKV_SPLIT)) split(l, lw, 1, qRot.address(), 0);
                if (on(Phase.ATTENTION)) attendSplitK(l, 1, oneWeight.address(), oneWeight.address());
            } else if (on(Phase.ATTENTION)) {
                attendDecode(l, lw);
            }
            if (on(Phase.OUTPUT_PRODUCT)) k.decodeMatvec(lw.wo(), att.address(), 0, 0f, x.address(), true, int8);
            if (on(Phase.GATE_UP_SWIGLU)) {
                if (lw.gateUp().parts().size() == 1) {
                    k.decodeMatvecSwiGlu(lw.gateUp().parts().getFirst(), x.address(), lw.ffnNorm().address(), eps,
                            hb.address(), int8);
                } else {
                    k.rmsNorm(x.address(), lw.ffnNorm().address(), xb.address(), 1, c.dim(), eps);
                    lw.gateUp().run(k, xb.address(), 1, gateUp.address());
                    k.swiGluFused(gateUp.address(), hb.address(), 1, c.ffnDim());
                }
            }
            if (on(Phase.DOWN_PRODUCT)) k.decodeMatvec(lw.down(), hb.address(), 0, 0f, x.address(), true, int8);
        }
        if (on(Phase.LOGITS)) {
            k.decodeMatvec(weights.output, x.address(), weights.outputNorm.address(), eps, logits.address(), false, int8);
            if (!legacyDecode) k.argmaxToken(logits.address(), c.vocabularySize(), argmaxScratch.address(), tokenOut.address(), step);
        }
        if (on(Phase.CACHE_UPDATE)) cache.enqueueUpdate(kRaw.address(), vRaw.address(), cache.scored ? sums.address() : 0, 1);
    }

    // ---- chunks -------------------------------------------------------------------------------------------

    private float[] chunk(int[] tokenIds, int offset, int n, float[] allOut) {
        tokenCache = null;
        int vocab = c.vocabularySize();
        int rows = cache.rows();
        int first = (int) cache.tokensSeen();
        int pos0 = cache.originalPositions ? first : rows;
        device.upload(tokenIds, offset, n, tokens.address());
        if (cache.scored) {
            // §4 weights of the chunk's queries, as the Java cache forms them.
            float[] q = new float[n], d = new float[n];
            double beta = cache.beta;
            for (int i = 0; i < n; i++) {
                q[i] = (float) ((1 - beta) * Math.pow(beta, n - 1 - i));
                d[i] = (float) ((1 - beta) * Math.pow(beta, i));
            }
            device.upload(q, 0, n, byQuery.address());
            device.upload(d, 0, n, byDistance.address());
        }
        float eps = c.rmsEps();
        k.embed(weights.embedding, tokens.address(), n, x.address());
        for (int l = 0; l < c.layers(); l++) {
            DeviceModel.Layer lw = weights.layers.get(l);
            k.rmsNorm(x.address(), lw.attentionNorm().address(), xb.address(), n, c.dim(), eps);
            lw.qkv().run(k, xb.address(), n, qkv.address());
            if (flash != null) {
                split(l, lw, n, 0, qHalf.address());
                attendFlash(l, n, rows, pos0);
            } else {
                split(l, lw, n, qRot.address(), 0);
                attendSplitK(l, n, byQuery.address(), byDistance.address());
            }
            k.linear(lw.wo(), att.address(), n, x.address(), 1f);
            k.rmsNorm(x.address(), lw.ffnNorm().address(), xb.address(), n, c.dim(), eps);
            lw.gateUp().run(k, xb.address(), n, gateUp.address());
            k.swiGluFused(gateUp.address(), hb.address(), n, c.ffnDim());
            k.linear(lw.down(), hb.address(), n, x.address(), 1f);
        }
        cache.enqueueUpdate(kRaw.address(), vRaw.address(), cache.scored ? sums.address() : 0, n);
        cache.advance(n);

        if (allOut != null) {
            if (allLogits == null || allLogits.bytes() < 4L * n * vocab) {
                free(allLogits);
                allLogits = own(device.allocFloats((long) maxChunk * vocab));
            }
            k.rmsNorm(x.address(), weights.outputNorm.address(), xb.address(), n, c.dim(), eps);
            k.linear(weights.output, xb.address(), n, allLogits.address(), 0f);
            device.download(allLogits.address(), allOut, 0, n * vocab);
            return allOut;
        }
        k.rmsNorm(x.address() + 4L * (n - 1) * c.dim(), weights.outputNorm.address(), xb.address(), 1, c.dim(), eps);
        k.linear(weights.output, xb.address(), 1, logits.address(), 0f);
        device.download(logits.address(), hostLogits, 0, vocab);
        return hostLogits;
    }

    private long kRaw(int layer, int n) {
        return kRaw.address() + 2L * layer * c.kvHeads() * n * c.headDim();
    }

    private long vRaw(int layer, int n) {
        return vRaw.address() + 2L * layer * c.kvHeads() * n * c.headDim();
    }

    /** qkv rows → q (rotated f32 into qF, or un-rotated bf16 into qB) and the layer's bf16 k, v rows (qkv_split). */
    private void split(int layer, DeviceModel.Layer lw, int n, long qF, long qB) {
        int hd = c.headDim();
        device.launch("qkv_split", n, c.heads() + c.kvHeads(), 64, 0, device.args().ptr(qkv.address())
                .ptr(lw.qkvBias() == null ? 0 : lw.qkvBias().address()).i32(c.heads()).i32(c.kvHeads()).i32(hd).i32(n)
                .ptr(cache.step()).ptr(weights.ropeFreqs.address()).i32(hd / 2).i32(rope.neox() ? 1 : 0)
                .ptr(ropeCos.address()).ptr(ropeSin.address()).i32(ropePositions).ptr(qF).ptr(qB)
                .ptr(kRaw(layer, n)).ptr(vRaw(layer, n)));
    }

    /** Split-K attention (decode.cu) of the chunk's rotated queries over the layer's cache; score sums when scored. */
    private void attendSplitK(int layer, int n, long weightByQuery, long weightByDistance) {
        new SplitKAttention(c.heads(), c.kvHeads(), c.headDim(), rope.neox(), weights.ropeFreqs.address(),
                ropeCos.address(), ropeSin.address(), ropePositions, splits, raw.address(), keyCapacity,
                partial.address(), stats.address())
                .run(device, cache, layer, n, qRot.address(), kRaw(layer, n), vRaw(layer, n), att.address(), scale,
                        cache.scored ? sums.address() : 0, weightByQuery, weightByDistance);
    }

    /** Decoding's attention of the layer in one kernel, straight from the QKV row (SplitKAttention#decode). */
    private void attendDecode(int layer, DeviceModel.Layer lw) {
        new SplitKAttention(c.heads(), c.kvHeads(), c.headDim(), rope.neox(), weights.ropeFreqs.address(),
                ropeCos.address(), ropeSin.address(), ropePositions, decodeSplits, raw.address(), keyCapacity,
                decodePartial.address(), stats.address())
                .decode(device, cache, layer, qkv.address(), lw.qkvBias() == null ? 0 : lw.qkvBias().address(),
                        kRaw(layer, 1), vRaw(layer, 1), att.address(), scale, decodeCounters.address(),
                        cache.scored ? sums.address() : 0, oneWeight.address(), oneWeight.address());
    }

    /** The flash path: queries rotated, held rows gathered in attention order, flash attention, exact score sums. */
    private void attendFlash(int layer, int n, int rows, int pos0) {
        int hd = c.headDim(), nk = rows + n;
        boolean neox = rope.neox();
        long freqs = weights.ropeFreqs.address();
        cache.rotateQueries(qHalf.address(), qFlash.address(), freqs, n, (long) c.heads() * hd, hd, pos0, neox);
        cache.gather(layer, kRaw(layer, n), vRaw(layer, n), n, rows, kAttn.address(), vAttn.address(), freqs, neox);
        FlashAttention.Tensor q = FlashAttention.Tensor.packed(qFlash.address(), n, hd);
        FlashAttention.Tensor keys = FlashAttention.Tensor.packed(kAttn.address(), nk, hd);
        flash.attention(q, keys, FlashAttention.Tensor.packed(vAttn.address(), nk, hd),
                new FlashAttention.Tensor(att.address(), (long) c.heads() * hd, hd), true, lse.address(), n, nk,
                c.heads(), c.kvHeads(), hd, scale);
        if (cache.scored) {
            boolean skip = skipSettled && rows == cache.slots() && cache.width() > 1;
            int from = skip ? cache.sinks : 0, to = skip ? cache.sinks + cache.width() - 1 : 0;
            flash.scoreSums(q, keys, lse.address(), sums.address() + 4L * layer * c.kvHeads() * nk, n, nk, c.heads(),
                    c.kvHeads(), hd, scale, cache.beta, cache.meanReduction, 1, from, to);
        }
    }

    // ---- buffers ------------------------------------------------------------------------------------------

    /**
     * Buffers sized by the keys a chunk can see (cache slots + chunk): gathered rows for the flash kernel, score
     * sums of every layer, raw scores and split partials of the split-K kernel. Replaced when the cache grows.
     */
    private void ensureKeyBuffers(int keys) {
        if (kAttn != null && keys <= keyCapacity) return;
        int grown = Math.max(keys, keyCapacity * 3 / 2);
        for (DeviceBuffer b : new DeviceBuffer[]{kAttn, vAttn, sums, raw, partial, decodePartial}) free(b);
        int hd = c.headDim(), g = c.kvHeads();
        int queries = flash != null ? 1 : maxChunk;   // the split-K kernel runs chunks only without the flash kernel
        splits = Math.clamp((grown + KEYS_PER_SPLIT - 1) / KEYS_PER_SPLIT, 1, MAX_SPLITS);
        decodeSplits = Math.clamp((grown + KEYS_PER_SPLIT - 1) / KEYS_PER_SPLIT, 1, DECODE_MAX_SPLITS);
        decodePartial = own(device.allocFloats((long) g * decodeSplits * group * (hd + 2)));
        kAttn = own(device.alloc(flash != null ? 2L * g * grown * hd : 16));
        vAttn = own(device.alloc(flash != null ? 2L * g * grown * hd : 16));
        sums = own(device.allocFloats((long) c.layers() * g * grown));
        raw = own(device.allocFloats((long) c.heads() * queries * grown));
        partial = own(device.allocFloats((long) g * queries * splits * group * (hd + 2)));
        keyCapacity = grown;
        buffersVersion++;
    }

    /**
     * Cached keys are rotated again on every chunk; their angles come from a cos/sin table (made in double
     * precision like the kernels' own) covering the positions seen so far, grown by doubling.
     */
    private void ensureRopeTable(int positions) {
        int need = Math.min(positions, ROPE_TABLE_MAX_POSITIONS);
        if (ropeCos != null && need <= ropePositions) return;
        int grown = Math.min(ROPE_TABLE_MAX_POSITIONS, Math.max(need, Math.max(4096, 2 * ropePositions)));
        int pairs = c.headDim() / 2;
        free(ropeCos);
        free(ropeSin);
        ropeCos = own(device.allocFloats((long) grown * pairs));
        ropeSin = own(device.allocFloats((long) grown * pairs));
        k.ropeTable(ropeCos.address(), ropeSin.address(), weights.ropeFreqs.address(), pairs, 0, grown);
        ropePositions = grown;
        buffersVersion++;
    }

    /** Frees this session's buffers and graph (the model's weights stay with the backend, the cache with its owner). */
    @Override
    public void close() {
        cleanable.clean();
    }
}
