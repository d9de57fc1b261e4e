package cascadelm.kernels.cpu;

import static cascadelm.kernels.cpu.Lanes.B;
import static cascadelm.kernels.cpu.Lanes.F;
import static cascadelm.kernels.cpu.Lanes.L;
import static cascadelm.kernels.cpu.Lanes.LE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import cascadelm.kernels.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/** Q8_0: blocks of 32 values, an f16 scale then 32 signed bytes; value = d·q. */
final class Q8_0Rows extends RowKernel {
    private static final int BYTES = 34;

    Q8_0Rows() {
        super(TensorType.Q8_0);
    }

    private static FloatVector quants(MemorySegment w, long offset) {
        return (FloatVector) ByteVector.fromMemorySegment(B, w, offset, LE).castShape(F, 0);
    }

    @Override
    float dot(MemorySegment w, long rowOffset, float[] x, int xOffset, int cols) {
        if (!Lanes.QUANT_VECTORS) {
            return scalarDot(w, rowOffset, x, xOffset, cols);
        }
        // Two block accumulators so consecutive blocks do not wait on each other's FMA.
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        int blocks = cols / 32;
        int b = 0;
        for (; b + 1 < blocks; b += 2) {
            long at = rowOffset + (long) b * BYTES;
            acc0 = block(w, at, x, xOffset + 32 * b).fma(FloatVector.broadcast(F, half(w, at)), acc0);
            acc1 = block(w, at + BYTES, x, xOffset + 32 * b + 32).fma(FloatVector.broadcast(F, half(w, at + BYTES)), acc1);
        }
        if (b < blocks) {
            long at = rowOffset + (long) b * BYTES;
            acc0 = block(w, at, x, xOffset + 32 * b).fma(FloatVector.broadcast(F, half(w, at)), acc0);
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    private static FloatVector block(MemorySegment w, long at, float[] x, int xAt) {
        FloatVector s = quants(w, at + 2).mul(FloatVector.fromArray(F, x, xAt));
        for (int j = L; j < 32; j += L) {
            s = quants(w, at + 2 + j).fma(FloatVector.fromArray(F, x, xAt + j), s);
        }
        return s;
    }

    @Override
    void dequantize(MemorySegment w, long rowOffset, int fromCol, int toCol, float[] out, int outOffset) {
        if (!Lanes.QUANT_VECTORS) {
            scalarDequantize(w, rowOffset, fromCol, toCol, out, outOffset);
            return;
        }
        for (int b = fromCol / 32, o = outOffset; b < toCol / 32; b++, o += 32) {
            long at = rowOffset + (long) b * BYTES;
            float d = half(w, at);
            for (int j = 0; j < 32; j += L) {
                quants(w, at + 2 + j).mul(d).intoArray(out, o + j);
            }
        }
    }

    @Override
    float scalarValue(MemorySegment w, long blockOffset, int i) {
        return half(w, blockOffset) * w.get(ValueLayout.JAVA_BYTE, blockOffset + 2 + i);
    }
}
