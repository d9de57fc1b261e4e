package cascadelm.kernels.cpu;

import static cascadelm.kernels.cpu.Lanes.B;
import static cascadelm.kernels.cpu.Lanes.F;
import static cascadelm.kernels.cpu.Lanes.L;
import static cascadelm.kernels.cpu.Lanes.LE;

import java.lang.foreign.MemorySegment;

import cascadelm.kernels.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
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
        return j < 4 ? u8(w, scales + j) & 63 : (u8(w, scales + j + 4) & 0xF) | ((u8(w, scales + j - 4) >> 6) << 4);
    }

    /** The 6-bit min of sub-block j. */
    static int min(MemorySegment w, long scales, int j) {
        return j < 4 ? u8(w, scales + j + 4) & 63 : (u8(w, scales + j + 4) >> 4) | ((u8(w, scales + j) >> 6) << 4);
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
            for (int k = 0; k < 4; k++) {
                FloatVector s0 = FloatVector.broadcast(F, d * scale(w, at + 4, 2 * k));
                FloatVector m0 = FloatVector.broadcast(F, -dmin * min(w, at + 4, 2 * k));
                FloatVector s1 = FloatVector.broadcast(F, d * scale(w, at + 4, 2 * k + 1));
                FloatVector m1 = FloatVector.broadcast(F, -dmin * min(w, at + 4, 2 * k + 1));
                int xAt = xOffset + 256 * b + 64 * k;
                for (int j = 0; j < 32; j += L) {
                    ByteVector q = ByteVector.fromMemorySegment(B, w, at + 16 + 32 * k + j, LE);
                    FloatVector lo = (FloatVector) q.and((byte) 0xF).castShape(F, 0);
                    FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).castShape(F, 0);
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
            for (int k = 0; k < 4; k++) {
                FloatVector s0 = FloatVector.broadcast(F, d * scale(w, at + 4, 2 * k));
                FloatVector m0 = FloatVector.broadcast(F, -dmin * min(w, at + 4, 2 * k));
                FloatVector s1 = FloatVector.broadcast(F, d * scale(w, at + 4, 2 * k + 1));
                FloatVector m1 = FloatVector.broadcast(F, -dmin * min(w, at + 4, 2 * k + 1));
                for (int j = 0; j < 32; j += L) {
                    ByteVector q = ByteVector.fromMemorySegment(B, w, at + 16 + 32 * k + j, LE);
                    ((FloatVector) q.and((byte) 0xF).castShape(F, 0)).fma(s0, m0).intoArray(out, o + 64 * k + j);
                    ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).castShape(F, 0)).fma(s1, m1).intoArray(out, o + 64 * k + 32 + j);
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
