package cascadelm.kernels.cpu;

import static cascadelm.kernels.cpu.Lanes.F;
import static cascadelm.kernels.cpu.Lanes.L;
import static cascadelm.kernels.cpu.Lanes.bytesAsInts;
import static cascadelm.kernels.cpu.Lanes.toFloat;

import java.lang.foreign.MemorySegment;

import cascadelm.kernels.TensorType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q4_0: blocks of 32 values, an f16 scale then 16 bytes; low nibbles are values 0..15, high nibbles
 * values 16..31; value = d·(q − 8).
 */
final class Q4_0Rows extends RowKernel {
    private static final int BYTES = 18;
    private static final FloatVector SIXTEENTH = FloatVector.broadcast(F, 1f / 16);

    Q4_0Rows() {
        super(TensorType.Q4_0);
    }

    @Override
    float dot(MemorySegment w, long rowOffset, float[] x, int xOffset, int cols) {
        if (!Lanes.QUANT_VECTORS) {
            return scalarDot(w, rowOffset, x, xOffset, cols);
        }
        float[] xSums = new float[cols / 32];
        for (int b = 0; b < xSums.length; b++) {
            float s = 0;
            for (int c = xOffset + 32 * b, end = c + 32; c < end; c++) {
                s += x[c];
            }
            xSums[b] = s;
        }
        // Σ_b d_b · Σ_j (q_j − 8) · x_j = Σ_b d_b · Σ_j q_j · x_j − 8 · Σ_b d_b · xSums[b]: the offset moves out of
        // the vector loop into one scalar multiply-add per block, leaving one mask per nibble vector before its
        // conversion to float. (Where the vector paths run, Matmul decodes with Q4_0Groups instead.)
        // One block per iteration: two made the method too large for C2 to inline its vector operations
        // (NodeCountInliningCutoff), and boxed vectors run ten times slower. Blocks alternate between two
        // accumulators (the swap) so that consecutive blocks do not wait on each other's FMA.
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        float offsets = 0;
        for (int b = 0, blocks = cols / 32; b < blocks; b++) {
            long at = rowOffset + (long) b * BYTES;
            float d = half(w, at);
            FloatVector next = unsignedBlock(w, at, x, xOffset + 32 * b).fma(FloatVector.broadcast(F, d), acc1);
            acc1 = acc0;
            acc0 = next;
            offsets += d * xSums[b];
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) - 8 * offsets;
    }

    /**
     * Σ q · x over one block, q the unsigned nibbles, in two chains. The high nibbles are taken as
     * {@code byte & 0xF0}, that is 16 · q: masking alone, as for the low ones, with the exact 1/16 applied
     * once to the sum.
     */
    private static FloatVector unsignedBlock(MemorySegment w, long at, float[] x, int xAt) {
        IntVector q = bytesAsInts(w, at + 2);
        FloatVector lo = toFloat(q.and(0xF)).mul(FloatVector.fromArray(F, x, xAt));
        FloatVector hi = toFloat(q.and(0xF0)).mul(FloatVector.fromArray(F, x, xAt + 16));
        for (int j = L; j < 16; j += L) {
            q = bytesAsInts(w, at + 2 + j);
            lo = toFloat(q.and(0xF)).fma(FloatVector.fromArray(F, x, xAt + j), lo);
            hi = toFloat(q.and(0xF0)).fma(FloatVector.fromArray(F, x, xAt + 16 + j), hi);
        }
        return hi.fma(SIXTEENTH, lo);
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
            for (int j = 0; j < 16; j += L) {
                IntVector q = bytesAsInts(w, at + 2 + j);
                toFloat(q.and(0xF).sub(8)).mul(d).intoArray(out, o + j);
                toFloat(q.lanewise(VectorOperators.LSHR, 4).and(0xF).sub(8)).mul(d).intoArray(out, o + 16 + j);
            }
        }
    }

    @Override
    float scalarValue(MemorySegment w, long blockOffset, int i) {
        int q = u8(w, blockOffset + 2 + (i & 15));
        return half(w, blockOffset) * ((i < 16 ? q & 0xF : q >> 4) - 8);
    }
}
