package cascadelm.kernels.cuda;

import cascadelm.kernels.AttentionScores;
import cascadelm.kernels.Backend;
import cascadelm.kernels.Matrix;
import cascadelm.kernels.Rope;

import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The CUDA {@link Backend}: one GPU, its kernels and cuBLAS. The host-array methods of {@link Backend} copy
 * their inputs to the device, run the kernel and copy the result back (what the kernel tests compare with the
 * CPU backend); the model's fast path is the device-resident CUDA session, which uses {@link #kernels()}
 * directly and keeps each model's weights here, uploaded once ({@link #resident}).
 */
public final class CudaBackend implements Backend {
    private final CudaDevice device;
    private final CudaKernels kernels;
    private final Map<Object, AutoCloseable> residents = new IdentityHashMap<>();
    private final Map<Matrix, DeviceMatrix> matrices = new HashMap<>();
    private Rope ropeOnDevice;
    private boolean poison;
    private DeviceBuffer ropeFreqs;

    private CudaBackend(CudaDevice device) {
        this.device = device;
        this.kernels = new CudaKernels(device);
    }

    /** Opens GPU {@code ordinal}; throws {@link CudaUnavailableException} saying why when it cannot be used. */
    public static CudaBackend open(int ordinal) {
        return new CudaBackend(CudaDevice.open(ordinal));
    }

    @Override
    public String name() {
        return device.name();
    }

    public CudaDevice device() {
        return device;
    }

    public CudaKernels kernels() {
        return kernels;
    }

    /** With {@code on}, the host-array methods fill their device outputs with NaN before each kernel (tests). */
    public void poisonOutputs(boolean on) {
        this.poison = on;
    }

    private void poison(DeviceBuffer b, long floats) {
        if (poison) device.fill32(b.address(), 0x7FC00000, floats);
    }

    /**
     * The device-side state made for {@code owner} (e.g. a model's uploaded weights), made on first request and
     * closed with the backend.
     */
    @SuppressWarnings("unchecked")
    public synchronized <T extends AutoCloseable> T resident(Object owner, Supplier<T> make) {
        return (T) residents.computeIfAbsent(owner, o -> make.get());
    }

    private DeviceMatrix matrix(Matrix w) {
        return matrices.computeIfAbsent(w, m -> DeviceMatrix.upload(device, m));
    }

    @Override
    public void matmul(Matrix w, float[] x, float[] out, int n) {
        DeviceMatrix m = matrix(w);
        try (DeviceBuffer dx = device.allocFloats((long) n * w.cols()); DeviceBuffer dout = device.allocFloats((long) n * w.rows())) {
            device.upload(x, 0, n * w.cols(), dx.address());
            poison(dout, (long) n * w.rows());
            kernels.linear(m, dx.address(), n, dout.address(), 0f);
            device.download(dout.address(), out, 0, n * w.rows());
        }
    }

    @Override
    public void rmsNorm(float[] x, float[] weight, float[] out, int n, int dim, float eps) {
        try (DeviceBuffer dx = device.uploadNew(java.util.Arrays.copyOf(x, n * dim)); DeviceBuffer dw = device.uploadNew(weight);
             DeviceBuffer dout = device.allocFloats((long) n * dim)) {
            poison(dout, (long) n * dim);
            kernels.rmsNorm(dx.address(), dw.address(), dout.address(), n, dim, eps);
            device.download(dout.address(), out, 0, n * dim);
        }
    }

    @Override
    public void rope(float[] x, int n, int heads, int headDim, int[] positions, Rope rope) {
        if (rope.rotaryDims() > headDim) {
            throw new IllegalArgumentException("rotary dimensions " + rope.rotaryDims() + " exceed the head dimension " + headDim);
        }
        int length = n * heads * headDim;
        try (DeviceBuffer dx = device.allocFloats(length); DeviceBuffer dp = device.uploadNew(java.util.Arrays.copyOf(positions, n))) {
            device.upload(x, 0, length, dx.address());
            kernels.rope(dx.address(), n, heads, headDim, dp.address(), ropeFreqs(rope), rope.rotaryDims() / 2, rope.neox());
            device.download(dx.address(), x, 0, length);
        }
    }

    private long ropeFreqs(Rope rope) {
        if (rope != ropeOnDevice) {
            if (ropeFreqs != null) ropeFreqs.close();
            ropeFreqs = device.uploadNew(rope.inverseFrequencies());
            ropeOnDevice = rope;
        }
        return ropeFreqs.address();
    }

    @Override
    public void softmax(float[] x, int offset, int length) {
        try (DeviceBuffer dx = device.allocFloats(length)) {
            device.upload(x, offset, length, dx.address());
            kernels.softmax(dx.address(), length);
            device.download(dx.address(), x, offset, length);
        }
    }

    @Override
    public void swiGlu(float[] gate, float[] up, int length) {
        try (DeviceBuffer g = device.allocFloats(length); DeviceBuffer u = device.allocFloats(length)) {
            device.upload(gate, 0, length, g.address());
            device.upload(up, 0, length, u.address());
            kernels.swiGlu(g.address(), u.address(), length);
            device.download(g.address(), gate, 0, length);
        }
    }

    @Override
    public void add(float[] a, float[] b, int length) {
        try (DeviceBuffer da = device.allocFloats(length); DeviceBuffer db = device.allocFloats(length)) {
            device.upload(a, 0, length, da.address());
            device.upload(b, 0, length, db.address());
            kernels.add(da.address(), db.address(), length);
            device.download(da.address(), a, 0, length);
        }
    }

    @Override
    public void attention(float[] q, int nQ, int nHeads, int nKvHeads, int headDim, float[][] keys, float[][] values,
                          int nKeys, float scale, float[] out, AttentionScores scores) {
        long stride = (long) nKeys * headDim;
        int qLength = nQ * nHeads * headDim;
        try (DeviceBuffer dq = device.allocFloats(qLength); DeviceBuffer dk = device.allocFloats(nKvHeads * stride);
             DeviceBuffer dv = device.allocFloats(nKvHeads * stride); DeviceBuffer dout = device.allocFloats(qLength);
             DeviceBuffer ds = device.allocFloats(scores == null ? 1 : (long) nHeads * nKeys);
             DeviceBuffer wq = device.uploadNew(scores == null ? new float[1] : scores.weightByQuery());
             DeviceBuffer wd = device.uploadNew(scores == null ? new float[1] : scores.weightByDistance())) {
            device.upload(q, 0, qLength, dq.address());
            for (int g = 0; g < nKvHeads; g++) {
                device.upload(keys[g], 0, (int) stride, dk.address() + 4L * g * stride);
                device.upload(values[g], 0, (int) stride, dv.address() + 4L * g * stride);
            }
            if (scores != null) device.fill32(ds.address(), 0, (long) nHeads * nKeys);
            poison(dout, qLength);
            kernels.attention(dq.address(), nQ, nHeads, nKvHeads, headDim, dk.address(), dv.address(), stride, nKeys,
                    scale, dout.address(), scores == null ? 0 : ds.address(), wq.address(), wd.address());
            device.download(dout.address(), out, 0, qLength);
            if (scores != null) {
                float[] sums = new float[nHeads * nKeys];
                device.download(ds.address(), sums, 0, sums.length);
                float[] target = scores.out();
                for (int i = 0; i < sums.length; i++) target[i] += sums[i];
            }
        }
    }

    @Override
    public void dequantizeRow(Matrix w, int row, float[] out, int outOffset) {
        DeviceMatrix m = matrix(w);
        try (DeviceBuffer tokens = device.uploadNew(new int[]{row}); DeviceBuffer dout = device.allocFloats(w.cols())) {
            poison(dout, w.cols());
            kernels.embed(m, tokens.address(), 1, dout.address());
            device.download(dout.address(), out, outOffset, w.cols());
        }
    }

    @Override
    public void close() {
        try {
            device.makeCurrent();
            for (AutoCloseable r : residents.values()) {
                try {
                    r.close();
                } catch (Exception e) {
                    throw new IllegalStateException("closing device state: " + e.getMessage(), e);
                }
            }
            residents.clear();
            matrices.values().forEach(DeviceMatrix::close);
            matrices.clear();
            kernels.close();
        } finally {
            device.close();
        }
    }
}
