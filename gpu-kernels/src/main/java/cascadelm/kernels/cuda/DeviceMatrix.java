package cascadelm.kernels.cuda;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.TensorType;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A weight matrix resident on the device in its file encoding ({@code rows × cols} of {@link TensorType}),
 * read by the decode kernels, plus, for quantised types, an optional float16 copy that prefill GEMMs read
 * directly (see {@link CudaKernels#linear}).
 */
public final class DeviceMatrix implements AutoCloseable {
    private final TensorType type;
    private final int rows, cols;
    private final long rowBytes;
    private final DeviceBuffer data;
    private DeviceBuffer half;

    private DeviceMatrix(TensorType type, int rows, int cols, DeviceBuffer data) {
        this.type = type;
        this.rows = rows;
        this.cols = cols;
        this.rowBytes = type.bytesFor(cols);
        this.data = data;
    }

    /** Uploads one matrix. */
    public static DeviceMatrix upload(CudaDevice device, Matrix m) {
        return stack(device, List.of(m));
    }

    /**
     * Uploads matrices of one type and width one under the other (e.g. Wq, Wk, Wv as one QKV matrix), so one
     * kernel computes all their products.
     */
    public static DeviceMatrix stack(CudaDevice device, List<Matrix> parts) {
        Matrix first = parts.getFirst();
        if (first.cols() % 8 != 0) {
            throw new IllegalArgumentException("the CUDA kernels need a multiple of 8 columns, the matrix has " + first.cols());
        }
        long bytes = 0;
        int rows = 0;
        for (Matrix m : parts) {
            if (m.type() != first.type() || m.cols() != first.cols()) {
                throw new IllegalArgumentException("stacked matrices must share type and width: " + m.type() + " "
                        + m.cols() + " vs " + first.type() + " " + first.cols());
            }
            bytes += m.rows() * m.rowBytes();
            rows += m.rows();
        }
        DeviceBuffer b = device.alloc(bytes);
        long at = 0;
        for (Matrix m : parts) {
            long n = m.rows() * m.rowBytes();
            MemorySegment src = m.data().asSlice(0, n);
            device.upload(src, n, b.address() + at);
            at += n;
        }
        return new DeviceMatrix(first.type(), rows, first.cols(), b);
    }

    /** True when the stacked parts could be uploaded as one matrix. */
    public static boolean stackable(List<Matrix> parts) {
        Matrix first = parts.getFirst();
        return parts.stream().allMatch(m -> m.type() == first.type() && m.cols() == first.cols());
    }

    public TensorType type() {
        return type;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    public long rowBytes() {
        return rowBytes;
    }

    public long address() {
        return data.address();
    }

    public long bytes() {
        return data.bytes() + (half == null ? 0 : half.bytes());
    }

    /** Whether GEMMs read the stored encoding directly (float32, float16, bfloat16). */
    public boolean gemmReady() {
        return type == TensorType.F32 || type == TensorType.F16 || type == TensorType.BF16;
    }

    /** The float16 copy for GEMMs, or null. */
    DeviceBuffer half() {
        return half;
    }

    /** Keeps a float16 copy of a quantised matrix for prefill GEMMs (2 bytes per weight). */
    public void keepHalfCopy(CudaKernels kernels) {
        if (gemmReady() || half != null) return;
        half = kernels.device().alloc(2L * rows * cols);
        kernels.dequantizeToHalf(this, half.address(), false);
    }

    @Override
    public void close() {
        data.close();
        if (half != null) half.close();
    }
}
