package cascadelm.model.cuda;

import cascadelm.kernels.AttentionScores;
import cascadelm.kernels.Rope;
import cascadelm.kernels.cuda.CudaBackend;
import cascadelm.kernels.cuda.CudaDevice;
import cascadelm.kernels.cuda.CudaKernels;
import cascadelm.kernels.cuda.DeviceBuffer;
import cascadelm.model.cache.KvCache;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelConfig;
import cascadelm.model.llama.ModelSession;

import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;

/**
 * The forward pass on one GPU: weights resident (uploaded once per model and backend), activations and
 * the KV cache rows in device memory, only the token ids in and the logits out crossing to the host. Per layer:
 * RMSNorm, the fused QKV product, q and k rotated and split out beside the cached rows (gathered and rotated
 * in attention order), attention, the output product added to the residual, RMSNorm, the fused gate|up product,
 * SwiGLU, the down product added to the residual.
 *
 * <p>The cache policy is the host one; its bookkeeping (order, positions, slot choice, score EMA) runs on the
 * host, its row moves on the device after each chunk ({@link DeviceRowStorage#apply}). A policy that scores
 * keys (the cascading cache with score selection) gets the attention-score sums copied back once per layer
 * and chunk: a device-to-host wait per layer, which a device-side EMA would remove.
 */
public final class CudaSession implements ModelSession {
    private final CudaBackend backend;
    private final CudaDevice device;
    private final CudaKernels k;
    private final DeviceModel weights;
    private final ModelConfig c;
    private final int maxChunk;
    private final Rope rope;
    private KvCache cache;

    private final DeviceBuffer tokens, x, xb, qkv, q, att, gateUp, hb, chunkKeys, chunkValues, logits, byQuery, byDistance;
    private DeviceBuffer keys, values, order, scores, allLogits, ropeCos, ropeSin;
    private int ropePositions;
    /** Positions the rotary table covers at most (256 MiB at 64 pairs); beyond, kernels form the angles themselves. */
    private static final int ROPE_TABLE_MAX_POSITIONS = 1 << 19;
    private int keyCapacity;
    private final float[] hostLogits;
    private final Owned owned = new Owned();
    private final Cleaner.Cleanable cleanable;

    /** Every buffer this session allocated: freed by {@link #close}, or when the session becomes unreachable. */
    private static final class Owned implements Runnable {
        final List<DeviceBuffer> buffers = new ArrayList<>();

        @Override
        public void run() {
            buffers.forEach(DeviceBuffer::close);
            buffers.clear();
        }
    }

    private static final Cleaner CLEANER = Cleaner.create();

    private DeviceBuffer own(DeviceBuffer b) {
        owned.buffers.add(b);
        return b;
    }
    private float[] hostScores = new float[0];

    public CudaSession(LlamaModel model, CudaBackend backend, KvCache cache, int maxChunk) {
        if (maxChunk < 1) throw new IllegalArgumentException("chunk size must be at least 1, got " + maxChunk);
        this.backend = backend;
        this.device = backend.device();
        this.k = backend.kernels();
        this.c = model.config();
        this.maxChunk = maxChunk;
        this.rope = model.weights().rope();
        if (c.headDim() > 256) throw new IllegalArgumentException("head dimension " + c.headDim() + " is above the CUDA kernels' 256");
        setCache(cache);
        this.weights = DeviceModel.of(backend, model);
        this.cleanable = CLEANER.register(this, owned);
        long m = maxChunk;
        tokens = own(device.alloc(4 * m));
        x = own(device.allocFloats(m * c.dim()));
        xb = own(device.allocFloats(m * Math.max(c.dim(), c.qDim())));
        qkv = own(device.allocFloats(m * (c.qDim() + 2L * c.kvDim())));
        q = own(device.allocFloats(m * c.qDim()));
        att = own(device.allocFloats(m * c.qDim()));
        gateUp = own(device.allocFloats(m * 2L * c.ffnDim()));
        hb = own(device.allocFloats(m * c.ffnDim()));
        chunkKeys = own(device.allocFloats((long) c.layers() * m * c.kvDim()));
        chunkValues = own(device.allocFloats((long) c.layers() * m * c.kvDim()));
        logits = own(device.allocFloats(c.vocabularySize()));
        byQuery = own(device.allocFloats(m));
        byDistance = own(device.allocFloats(m));
        hostLogits = new float[c.vocabularySize()];
    }

    @Override
    public KvCache cache() {
        return cache;
    }

    @Override
    public void setCache(KvCache cache) {
        if (!(cache.storage() instanceof DeviceRowStorage s) || s.backend() != backend) {
            throw new IllegalArgumentException("the CUDA session needs a cache whose rows are on " + backend.name()
                    + " (made by ModelSessions.cache); this one's are " + cache.storage().getClass().getSimpleName());
        }
        this.cache = cache;
    }

    private DeviceRowStorage storage() {
        return (DeviceRowStorage) cache.storage();
    }

    @Override
    public int maxChunk() {
        return maxChunk;
    }

    @Override
    public float[] forward(int[] tokenIds, int offset, int n, float[] allOut) {
        if (n < 1 || n > maxChunk) throw new IllegalArgumentException("chunk of " + n + " tokens, limit " + maxChunk);
        int vocab = c.vocabularySize();
        for (int i = 0; i < n; i++) {
            int token = tokenIds[offset + i];
            if (token < 0 || token >= vocab) {
                throw new IllegalArgumentException("token id " + token + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        device.makeCurrent();
        device.upload(tokenIds, offset, n, tokens.address());
        k.embed(weights.embedding, tokens.address(), n, x.address());

        int rows = cache.rows();
        int first = cache.nextPosition();
        ensureKeyCapacity(rows + n);
        ensureRopeTable(Math.max(first, rows) + n);
        if (rows > 0) device.upload(cache.attentionOrder(), 0, rows, order.address());
        for (int l = 0; l < c.layers(); l++) {
            attention(l, weights.layers.get(l), n, rows, first);
            feedForward(weights.layers.get(l), n);
        }
        cache.commit(n);
        storage().apply(chunkKeys.address(), chunkValues.address(), (long) maxChunk * c.kvDim());

        if (allOut != null) {
            if (allLogits == null || allLogits.bytes() < 4L * n * vocab) {
                if (allLogits != null) {
                    owned.buffers.remove(allLogits);
                    allLogits.close();
                }
                allLogits = own(device.allocFloats((long) maxChunk * vocab));
            }
            k.rmsNorm(x.address(), weights.outputNorm.address(), xb.address(), n, c.dim(), c.rmsEps());
            k.linear(weights.output, xb.address(), n, allLogits.address(), 0f);
            device.download(allLogits.address(), allOut, 0, n * vocab);
            return allOut;
        }
        k.rmsNorm(x.address() + 4L * (n - 1) * c.dim(), weights.outputNorm.address(), xb.address(), 1, c.dim(), c.rmsEps());
        k.linear(weights.output, xb.address(), 1, logits.address(), 0f);
        device.download(logits.address(), hostLogits, 0, vocab);
        return hostLogits;
    }

    private void attention(int layer, DeviceModel.Layer lw, int n, int rows, int first) {
        int hd = c.headDim();
        long stride = (long) keyCapacity * hd;
        boolean neox = rope.neox();
        k.rmsNorm(x.address(), lw.attentionNorm().address(), xb.address(), n, c.dim(), c.rmsEps());
        lw.qkv().run(k, xb.address(), n, qkv.address());
        if (lw.qkvBias() != null) k.addBias(qkv.address(), lw.qkvBias().address(), n, lw.qkv().rows());
        long layerChunk = 4L * layer * maxChunk * c.kvDim();
        k.splitQkv(qkv.address(), n, c.heads(), c.kvHeads(), hd, first, weights.ropeFreqs.address(), rope.rotaryDims() / 2, neox,
                q.address(), keys.address(), values.address(), stride, rows, chunkKeys.address() + layerChunk,
                chunkValues.address() + layerChunk, ropeCos.address(), ropeSin.address(), ropePositions);
        DeviceRowStorage s = storage();
        k.cacheGather(s.keys(layer), s.values(layer), s.positions(layer), order.address(), rows, c.kvHeads(),
                s.capacity(), hd, cache.originalPositions(), weights.ropeFreqs.address(), rope.rotaryDims() / 2, neox,
                keys.address(), values.address(), stride, ropeCos.address(), ropeSin.address(), ropePositions);
        AttentionScores request = cache.scoreRequest(layer, n);
        int nKeys = rows + n;
        if (request != null) {
            device.fill32(scores.address(), 0, (long) c.heads() * nKeys);
            device.upload(request.weightByQuery(), 0, n, byQuery.address());
            device.upload(request.weightByDistance(), 0, n, byDistance.address());
        }
        k.attention(q.address(), n, c.heads(), c.kvHeads(), hd, keys.address(), values.address(), stride, nKeys,
                (float) (1.0 / Math.sqrt(hd)), att.address(), request == null ? 0 : scores.address(), byQuery.address(),
                byDistance.address());
        if (request != null) {
            int count = c.heads() * nKeys;
            if (hostScores.length < count) hostScores = new float[count];
            device.download(scores.address(), hostScores, 0, count);
            float[] out = request.out();
            for (int i = 0; i < count; i++) out[i] += hostScores[i];
        }
        cache.append(layer, n);
        k.linear(lw.wo(), att.address(), n, x.address(), 1f);
    }

    private void feedForward(DeviceModel.Layer lw, int n) {
        k.rmsNorm(x.address(), lw.ffnNorm().address(), xb.address(), n, c.dim(), c.rmsEps());
        lw.gateUp().run(k, xb.address(), n, gateUp.address());
        k.swiGluFused(gateUp.address(), hb.address(), n, c.ffnDim());
        k.linear(lw.down(), hb.address(), n, x.address(), 1f);
    }

    /**
     * The cached keys are rotated again on every chunk; their angles come from a cos/sin table (made in double
     * precision like the kernels' own) covering the positions seen so far, grown by doubling.
     */
    private void ensureRopeTable(int positions) {
        int need = Math.min(positions, ROPE_TABLE_MAX_POSITIONS);
        if (ropeCos != null && need <= ropePositions) return;
        int grown = Math.min(ROPE_TABLE_MAX_POSITIONS, Math.max(need, Math.max(4096, 2 * ropePositions)));
        int pairs = rope.rotaryDims() / 2;
        for (DeviceBuffer b : new DeviceBuffer[]{ropeCos, ropeSin}) {
            if (b != null) {
                owned.buffers.remove(b);
                b.close();
            }
        }
        ropeCos = own(device.allocFloats((long) grown * pairs));
        ropeSin = own(device.allocFloats((long) grown * pairs));
        k.ropeTable(ropeCos.address(), ropeSin.address(), weights.ropeFreqs.address(), pairs, 0, grown);
        ropePositions = grown;
    }

    private void ensureKeyCapacity(int needRows) {
        if (keys != null && keyCapacity >= needRows) return;
        int grown = (int) Math.max(needRows, Math.min(Integer.MAX_VALUE / 2, keyCapacity * 3L / 2));
        for (DeviceBuffer b : new DeviceBuffer[]{keys, values, order, scores}) {
            if (b != null) {
                owned.buffers.remove(b);
                b.close();
            }
        }
        keys = own(device.allocFloats((long) c.kvHeads() * grown * c.headDim()));
        values = own(device.allocFloats((long) c.kvHeads() * grown * c.headDim()));
        order = own(device.alloc(4L * grown));
        scores = own(device.allocFloats((long) c.heads() * grown));
        keyCapacity = grown;
    }

    /** Frees this session's activation buffers (the model's weights stay with the backend, the cache with its owner). */
    @Override
    public void close() {
        cleanable.clean();
    }
}
