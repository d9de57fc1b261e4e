package cascadelm.model.cuda;

import cascadelm.kernels.cuda.CudaBackend;
import cascadelm.kernels.cuda.CudaDevice;
import cascadelm.kernels.cuda.DeviceBuffer;
import cascadelm.model.cache.RowStorage;

import java.lang.ref.Cleaner;
import java.util.Arrays;

/**
 * Cache rows in device memory: keys, values and each row's position, laid out [layer][kvHead][row]. The cache
 * policy's bookkeeping stays on the host; its row moves are recorded here as operations (int4: kind, row,
 * chunk token, position) per (layer, KV head) and carried out by one kernel after the chunk is committed
 * ({@link #apply}), in recorded order, with the carry in registers. The chunk's rows are those the CUDA session
 * keeps per layer until then.
 */
public final class DeviceRowStorage implements RowStorage {
    static final int ROW_FROM_CHUNK = 0, CARRY_FROM_CHUNK = 1, ROW_FROM_CARRY = 2, SWAP_CARRY = 3;
    private static final Cleaner CLEANER = Cleaner.create();

    private final CudaBackend backend;
    private final int layers, kvHeads, headDim;
    private int capacity;
    private final Buffers buffers;
    private final int[][] ops;      // [layer·kvHeads + head]: 4 ints per op
    private final int[] opCount;
    private int pending;

    /** The device memory, freed when the storage is released or becomes unreachable. */
    private static final class Buffers implements Runnable {
        DeviceBuffer keys, values, positions, opsBuffer, opStart;

        @Override
        public void run() {
            for (DeviceBuffer b : new DeviceBuffer[]{keys, values, positions, opsBuffer, opStart}) {
                if (b != null) b.close();
            }
        }
    }

    private final Cleaner.Cleanable cleanable;

    public DeviceRowStorage(CudaBackend backend, int layers, int kvHeads, int headDim, int capacity) {
        this.backend = backend;
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.capacity = capacity;
        this.buffers = new Buffers();
        this.cleanable = CLEANER.register(this, buffers);
        allocate(capacity);
        this.ops = new int[layers * kvHeads][16];
        this.opCount = new int[layers * kvHeads];
    }

    /** A factory for caches whose rows live on this backend's device. */
    public static Factory on(CudaBackend backend) {
        return (layers, kvHeads, headDim, capacity) -> new DeviceRowStorage(backend, layers, kvHeads, headDim, capacity);
    }

    private CudaDevice device() {
        return backend.device();
    }

    private void allocate(int rows) {
        long cells = (long) layers * kvHeads * rows;
        buffers.keys = device().allocFloats(cells * headDim);
        buffers.values = device().allocFloats(cells * headDim);
        buffers.positions = device().alloc(cells * Integer.BYTES);
    }

    public long keys(int layer) {
        return buffers.keys.address() + 4L * layer * kvHeads * capacity * headDim;
    }

    public long values(int layer) {
        return buffers.values.address() + 4L * layer * kvHeads * capacity * headDim;
    }

    public long positions(int layer) {
        return buffers.positions.address() + 4L * layer * kvHeads * capacity;
    }

    public CudaBackend backend() {
        return backend;
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public void ensureCapacity(int rows) {
        if (rows <= capacity) return;
        int grown = (int) Math.min(Integer.MAX_VALUE / Math.max(1, headDim), Math.max(rows, capacity * 3L / 2));
        DeviceBuffer k = buffers.keys, v = buffers.values, p = buffers.positions;
        int old = capacity;
        allocate(grown);
        for (int lh = 0; lh < layers * kvHeads; lh++) {
            long rowsFrom = 4L * lh * old * headDim, rowsTo = 4L * lh * grown * headDim;
            device().copy(buffers.keys.address() + rowsTo, k.address() + rowsFrom, 4L * old * headDim);
            device().copy(buffers.values.address() + rowsTo, v.address() + rowsFrom, 4L * old * headDim);
            device().copy(buffers.positions.address() + 4L * lh * grown, p.address() + 4L * lh * old, 4L * old);
        }
        capacity = grown;
        k.close();
        v.close();
        p.close();
    }

    private void record(int layer, int head, int kind, int row, int token, int position) {
        int g = layer * kvHeads + head;
        int at = 4 * opCount[g];
        if (at + 4 > ops[g].length) ops[g] = Arrays.copyOf(ops[g], 2 * ops[g].length);
        int[] o = ops[g];
        o[at] = kind;
        o[at + 1] = row;
        o[at + 2] = token;
        o[at + 3] = position;
        opCount[g]++;
        pending++;
    }

    @Override
    public void putFromChunk(int layer, int kvHead, int row, int token, int position) {
        record(layer, kvHead, ROW_FROM_CHUNK, row, token, position);
    }

    @Override
    public void carryFromChunk(int layer, int kvHead, int token) {
        record(layer, kvHead, CARRY_FROM_CHUNK, 0, token, 0);
    }

    @Override
    public void carryToRow(int layer, int kvHead, int row, int position) {
        record(layer, kvHead, ROW_FROM_CARRY, row, 0, position);
    }

    @Override
    public void swapCarry(int layer, int kvHead, int row, int position) {
        record(layer, kvHead, SWAP_CARRY, row, 0, position);
    }

    /**
     * Carries out the recorded operations of a committed chunk: its un-rotated rows of layer l are at
     * {@code chunkKeys + l·chunkLayerStride} floats (likewise values), {@code token × kvHeads × headDim}.
     */
    public void apply(long chunkKeys, long chunkValues, long chunkLayerStride) {
        if (pending == 0) return;
        int groups = layers * kvHeads;
        int[] all = new int[4 * pending];
        int[] start = new int[groups + 1];
        int at = 0;
        for (int g = 0; g < groups; g++) {
            start[g] = at / 4;
            System.arraycopy(ops[g], 0, all, at, 4 * opCount[g]);
            at += 4 * opCount[g];
            opCount[g] = 0;
        }
        start[groups] = pending;
        pending = 0;
        buffers.opsBuffer = fit(buffers.opsBuffer, 4L * all.length);
        buffers.opStart = fit(buffers.opStart, 4L * start.length);
        device().upload(all, 0, all.length, buffers.opsBuffer.address());
        device().upload(start, 0, start.length, buffers.opStart.address());
        backend.kernels().cacheRowOps(buffers.opsBuffer.address(), buffers.opStart.address(), groups,
                buffers.keys.address(), buffers.values.address(), buffers.positions.address(), chunkKeys, chunkValues,
                chunkLayerStride, kvHeads, headDim, capacity);
    }

    private DeviceBuffer fit(DeviceBuffer b, long bytes) {
        if (b != null && b.bytes() >= bytes) return b;
        if (b != null) b.close();
        return device().alloc(Math.max(bytes, 4096));
    }

    @Override
    public RowStorage copy() {
        if (pending != 0) throw new IllegalStateException("a cache is copied between chunks, not while one is appended");
        DeviceRowStorage c = new DeviceRowStorage(backend, layers, kvHeads, headDim, capacity);
        device().copy(c.buffers.keys.address(), buffers.keys.address(), buffers.keys.bytes());
        device().copy(c.buffers.values.address(), buffers.values.address(), buffers.values.bytes());
        device().copy(c.buffers.positions.address(), buffers.positions.address(), buffers.positions.bytes());
        return c;
    }

    @Override
    public long bytes() {
        return 2L * layers * kvHeads * (long) capacity * headDim * Float.BYTES;
    }

    @Override
    public void release() {
        cleanable.clean();
    }
}
