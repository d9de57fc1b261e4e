package cascadelm.kernels.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import cascadelm.kernels.TensorType;

/**
 * The per-row kernels of one weight encoding: a dot product with a float vector (decoding, where each
 * weight is read once) and decoding a block-aligned column range to floats (the tiles of batched matmul).
 */
abstract class RowKernel {
    final TensorType type;

    RowKernel(TensorType type) {
        this.type = type;
    }

    /** {@code Σ_c w[c] · x[xOffset + c]} over the {@code cols} values of the row at byte {@code rowOffset}. */
    abstract float dot(MemorySegment w, long rowOffset, float[] x, int xOffset, int cols);

    /**
     * The dot product of {@code cols} weights at byte {@code rowOffset} (a row, or a row's part of a panel of
     * {@link PackedMatrix}) with {@code x[xOffset...]} when decoding (one token row): what {@link Matmul}
     * runs for every weight row. {@code scratch} is a per-worker buffer of {@link #SCRATCH} floats. By
     * default the plain {@link #dot}; kernels that gain from the scratch override it.
     */
    float decodeDot(MemorySegment w, long rowOffset, float[] x, int xOffset, int cols, float[] scratch) {
        return dot(w, rowOffset, x, xOffset, cols);
    }

    /** Floats of per-worker scratch that {@link #decodeDot} may use (at least a panel row's blocks). */
    static final int SCRATCH = 1024;

    /** Decodes columns {@code [fromCol, toCol)}, both block-aligned, to {@code out[outOffset...]}. */
    abstract void dequantize(MemorySegment w, long rowOffset, int fromCol, int toCol, float[] out, int outOffset);

    /** Value {@code i} of the block at {@code blockOffset}, decoded plainly: the path for vector widths the loops don't cover. */
    abstract float scalarValue(MemorySegment w, long blockOffset, int i);

    final float scalarDot(MemorySegment w, long rowOffset, float[] x, int xOffset, int cols) {
        float sum = 0;
        for (int c = 0; c < cols; c++) {
            sum += scalarAt(w, rowOffset, c) * x[xOffset + c];
        }
        return sum;
    }

    final void scalarDequantize(MemorySegment w, long rowOffset, int fromCol, int toCol, float[] out, int outOffset) {
        for (int c = fromCol; c < toCol; c++) {
            out[outOffset + c - fromCol] = scalarAt(w, rowOffset, c);
        }
    }

    private float scalarAt(MemorySegment w, long rowOffset, int c) {
        return scalarValue(w, rowOffset + (long) (c / type.blockSize) * type.bytesPerBlock, c % type.blockSize);
    }

    static float half(MemorySegment w, long offset) {
        return Float.float16ToFloat(w.get(Lanes.SHORT, offset));
    }

    static int u8(MemorySegment w, long offset) {
        return w.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
    }

    private static final RowKernel F32 = new F32Rows();
    private static final RowKernel F16 = new HalfRows.F16();
    private static final RowKernel BF16 = new HalfRows.Bf16();
    private static final RowKernel Q8_0 = new Q8_0Rows();
    private static final RowKernel Q4_0 = new Q4_0Rows();
    private static final RowKernel Q4_K = new Q4KRows();
    private static final RowKernel Q6_K = new Q6KRows();

    static RowKernel of(TensorType type) {
        return switch (type) {
            case F32 -> F32;
            case F16 -> F16;
            case BF16 -> BF16;
            case Q8_0 -> Q8_0;
            case Q4_0 -> Q4_0;
            case Q4_K -> Q4_K;
            case Q6_K -> Q6_K;
        };
    }
}
