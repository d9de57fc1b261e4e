package cascadelm.kernels.cpu;

import static cascadelm.kernels.cpu.Lanes.F;
import static cascadelm.kernels.cpu.Lanes.L;
import static cascadelm.kernels.cpu.Lanes.LE;

import java.lang.foreign.MemorySegment;

import cascadelm.kernels.TensorType;
import jdk.incubator.vector.FloatVector;

/** Little-endian float32 rows. */
final class F32Rows extends RowKernel {
    F32Rows() {
        super(TensorType.F32);
    }

    @Override
    float dot(MemorySegment w, long rowOffset, float[] x, int xOffset, int cols) {
        // Four independent accumulators hide the FMA latency; one would serialise on it.
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int c = 0;
        for (int end = cols - 4 * L; c <= end; c += 4 * L) {
            long at = rowOffset + 4L * c;
            a0 = FloatVector.fromMemorySegment(F, w, at, LE).fma(FloatVector.fromArray(F, x, xOffset + c), a0);
            a1 = FloatVector.fromMemorySegment(F, w, at + 4L * L, LE).fma(FloatVector.fromArray(F, x, xOffset + c + L), a1);
            a2 = FloatVector.fromMemorySegment(F, w, at + 8L * L, LE).fma(FloatVector.fromArray(F, x, xOffset + c + 2 * L), a2);
            a3 = FloatVector.fromMemorySegment(F, w, at + 12L * L, LE).fma(FloatVector.fromArray(F, x, xOffset + c + 3 * L), a3);
        }
        for (int end = cols - L; c <= end; c += L) {
            a0 = FloatVector.fromMemorySegment(F, w, rowOffset + 4L * c, LE).fma(FloatVector.fromArray(F, x, xOffset + c), a0);
        }
        float sum = a0.add(a1).add(a2.add(a3)).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
        for (; c < cols; c++) {
            sum += w.get(Lanes.FLOAT, rowOffset + 4L * c) * x[xOffset + c];
        }
        return sum;
    }

    @Override
    void dequantize(MemorySegment w, long rowOffset, int fromCol, int toCol, float[] out, int outOffset) {
        MemorySegment.copy(w, Lanes.FLOAT, rowOffset + 4L * fromCol, out, outOffset, toCol - fromCol);
    }

    @Override
    float scalarValue(MemorySegment w, long blockOffset, int i) {
        return w.get(Lanes.FLOAT, blockOffset + 4L * i);
    }
}
