package cascadelm.kernels;

import java.lang.foreign.MemorySegment;

/**
 * A weight matrix of {@code rows × cols} values in one of the {@link TensorType} encodings, stored row
 * after row (a GGUF tensor of dimensions [cols, rows]). The memory is usually a slice of a memory-mapped
 * model file; the matrix does not own it.
 */
public record Matrix(TensorType type, MemorySegment data, int rows, int cols) {
    public Matrix {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("matrix dimensions must be positive: " + rows + " x " + cols);
        }
        if (cols % type.blockSize != 0) {
            throw new IllegalArgumentException(type + " rows need a multiple of " + type.blockSize + " columns, got " + cols);
        }
        long need = (long) rows * type.bytesFor(cols);
        if (data.byteSize() < need) {
            throw new IllegalArgumentException("matrix " + rows + " x " + cols + " " + type + " needs " + need
                    + " bytes, the memory holds " + data.byteSize());
        }
    }

    /** Bytes of one stored row. */
    public long rowBytes() {
        return type.bytesFor(cols);
    }
}
