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
 * Q4_K: super-blocks of 256 values: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins for 8 sub-blocks of
 * 32, then 128 bytes of nibbles. Each run of 32 bytes holds two sub-blocks: low nibbles the first, high
 * nibbles the second. value = d·sc·q − dmin·m.
 */
final class Q4KRows extends RowKernel {
    private static final int BYTES = 144;

    Q4KRows() {
        super(TensorType.Q4_K);
    }

    /** The 6-bit scale of sub-block j, packed as ggml's get_scale_min_k4 reads it. */
    static int scale(MemorySegment w, long scales, int j) {
        return scale(w.get(Lanes.LONG, scales), w.get(Lanes.INT, scales + 8), j);
    }

    /** The 6-bit min of sub-block j. */
    static int min(MemorySegment w, long scales, int j) {
        return min(w.get(Lanes.LONG, scales), w.get(Lanes.INT, scales + 8), j);
    }

    // The 12 scale bytes as a long (bytes 0..7) and an int (bytes 8..11): one load each per block.
    private static int scale(long q, int tail, int j) {
        return j < 4 ? (int) (q >>> 8 * j) & 63 : ((tail >>> 8 * (j - 4)) & 0xF) | (((int) (q >>> 8 * (j - 4)) & 0xC0) >> 2);
    }

    private static int min(long q, int tail, int j) {
        return j < 4 ? (int) (q >>> 8 * (j + 4)) & 63 : ((tail >>> 8 * (j - 4) + 4) & 0xF) | (((int) (q >>> 8 * j) & 0xC0) >> 2);
    }

    @Override
    float dot(MemorySegment w, long rowOffset, float[] x, int xOffset, int cols) {
        if (!Lanes.QUANT_VECTORS) {
            return scalarDot(w, rowOffset, x, xOffset, cols);
        }
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        for (int b = 0; b < cols / 256; b++) {
            long at = rowOffset + (long) b * BYTES;
            float d = half(w, at);
            float dmin = half(w, at + 2);
            long q = w.get(Lanes.LONG, at + 4);
            int tail = w.get(Lanes.INT, at + 12);
            for (int k = 0; k < 4; k++) {
                FloatVector s0 = FloatVector.broadcast(F, d * scale(q, tail, 2 * k));
                FloatVector m0 = FloatVector.broadcast(F, -dmin * min(q, tail, 2 * k));
                FloatVector s1 = FloatVector.broadcast(F, d * scale(q, tail, 2 * k + 1));
                FloatVector m1 = FloatVector.broadcast(F, -dmin * min(q, tail, 2 * k + 1));
                int xAt = xOffset + 256 * b + 64 * k;
                for (int j = 0; j < 32; j += L) {
                    IntVector n = bytesAsInts(w, at + 16 + 32 * k + j);
                    FloatVector lo = toFloat(n.and(0xF));
                    FloatVector hi = toFloat(n.lanewise(VectorOperators.LSHR, 4).and(0xF));
                    acc0 = lo.fma(s0, m0).fma(FloatVector.fromArray(F, x, xAt + j), acc0);
                    acc1 = hi.fma(s1, m1).fma(FloatVector.fromArray(F, x, xAt + 32 + j), acc1);
                }
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    @Override
    void dequantize(MemorySegment w, long rowOffset, int fromCol, int toCol, float[] out, int outOffset) {
        if (!Lanes.QUANT_VECTORS) {
            scalarDequantize(w, rowOffset, fromCol, toCol, out, outOffset);
            return;
        }
        for (int b = fromCol / 256, o = outOffset; b < toCol / 256; b++, o += 256) {
            long at = rowOffset + (long) b * BYTES;
            float d = half(w, at);
            float dmin = half(w, at + 2);
            long q = w.get(Lanes.LONG, at + 4);
            int tail = w.get(Lanes.INT, at + 12);
            for (int k = 0; k < 4; k++) {
                FloatVector s0 = FloatVector.broadcast(F, d * scale(q, tail, 2 * k));
                FloatVector m0 = FloatVector.broadcast(F, -dmin * min(q, tail, 2 * k));
                FloatVector s1 = FloatVector.broadcast(F, d * scale(q, tail, 2 * k + 1));
                FloatVector m1 = FloatVector.broadcast(F, -dmin * min(q, tail, 2 * k + 1));
                for (int j = 0; j < 32; j += L) {
                    IntVector n = bytesAsInts(w, at + 16 + 32 * k + j);
                    toFloat(n.and(0xF)).fma(s0, m0).intoArray(out, o + 64 * k + j);
                    toFloat(n.lanewise(VectorOperators.LSHR, 4).and(0xF)).fma(s1, m1).intoArray(out, o + 64 * k + 32 + j);
                }
            }
        }
    }

    @Override
    float scalarValue(MemorySegment w, long blockOffset, int i) {
        int sub = i / 32;
        int q = u8(w, blockOffset + 16 + 32 * (sub / 2) + i % 32);
        int nibble = sub % 2 == 0 ? q & 0xF : q >> 4;
        return half(w, blockOffset) * scale(w, blockOffset + 4, sub) * nibble
                - half(w, blockOffset + 2) * min(w, blockOffset + 4, sub);
    }
}
