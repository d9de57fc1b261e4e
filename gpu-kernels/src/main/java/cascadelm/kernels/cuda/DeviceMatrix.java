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
        this.rowBytes = deviceRowBytes(type, cols);
        this.data = data;
    }

    /**
     * Bytes of one row on the device: the file's, except Q8_0, whose rows are repacked into groups of four blocks
     * (dequant.cuh), the last group padded to a whole one.
     */
    static long deviceRowBytes(TensorType type, int cols) {
        return type == TensorType.Q8_0 ? 136L * ((cols + 127) / 128) : type.bytesFor(cols);
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
        if (first.type() != TensorType.Q8_0) return new DeviceMatrix(first.type(), rows, first.cols(), b);
        // Q8_0: the file's blocks are rearranged on the device into the kernels' layout.
        long rowBytes = deviceRowBytes(TensorType.Q8_0, first.cols());
        int blocks = first.cols() / 32;
        try (b) {
            DeviceBuffer packed = device.alloc(rows * rowBytes);
            device.fill32(packed.address(), 0, rows * rowBytes / 4);
            long units = (long) rows * blocks;
            device.launch("q8_0_repack", (int) ((units + 255) / 256), 1, 256, 0, device.args().ptr(b.address())
                    .i64(first.rowBytes()).ptr(packed.address()).i64(rowBytes).i32(rows).i32(blocks));
            return new DeviceMatrix(TensorType.Q8_0, rows, first.cols(), packed);
        }
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
