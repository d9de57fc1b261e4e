package cascadelm.kernels.cpu;

import static cascadelm.kernels.cpu.Lanes.F;
import static cascadelm.kernels.cpu.Lanes.L;
import static cascadelm.kernels.cpu.Lanes.bytesAsInts;
import static cascadelm.kernels.cpu.Lanes.toFloat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import cascadelm.kernels.TensorType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q6_K: super-blocks of 256 values: 128 bytes of low nibbles (ql), 64 bytes of 2-bit highs (qh), 16 signed
 * 8-bit scales (one per 16 values), f16 d. In each half of 128 values, byte l of ql/qh feeds values
 * l, l+32, l+64, l+96; value = d·sc·(q − 32).
 */
final class Q6KRows extends RowKernel {
    private static final int BYTES = 210;

    Q6KRows() {
        super(TensorType.Q6_K);
    }

    private static int scale(MemorySegment w, long at, int sub) {
        return w.get(ValueLayout.JAVA_BYTE, at + 192 + sub);
    }

    // The four value groups of a half are decoded by one loop over g rather than four unrolled copies:
    // unrolled, C2 reaches its inlining node limit, stops inlining the vector calls and boxes every vector.

    @Override
    float dot(MemorySegment w, long rowOffset, float[] x, int xOffset, int cols) {
        if (!Lanes.QUANT_VECTORS) {
            return scalarDot(w, rowOffset, x, xOffset, cols);
        }
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < cols / 256; b++) {
            long at = rowOffset + (long) b * BYTES;
            float d = half(w, at + 208);
            for (int h = 0; h < 2; h++) {
                long ql = at + 64 * h;
                long qh = at + 128 + 32 * h;
                // The 8 scales of this half in one load; byte i scales values 16i..16i+15 of the half.
                long scales = w.get(Lanes.LONG, at + 192 + 8 * h);
                int xAt = xOffset + 256 * b + 128 * h;
                for (int l = 0; l < 32; l += L) {
                    IntVector high = bytesAsInts(w, qh + l);
                    for (int g = 0; g < 4; g++) {
                        FloatVector q = quants(w, ql + l, high, g);
                        acc = q.mul(d * scale(scales, l / 16 + 2 * g)).fma(FloatVector.fromArray(F, x, xAt + 32 * g + l), acc);
                    }
                }
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    private static int scale(long scales, int i) {
        return (byte) (scales >>> 8 * i);
    }

    /**
     * Group g (values l + 32g) of the bytes at ql + l: the low nibble of ql[l] (g = 0), ql[l + 32] (1),
     * their high nibbles (2, 3), with bits 2g..2g+1 of qh[l] above them; minus 32.
     */
    private static FloatVector quants(MemorySegment w, long ql, IntVector high, int g) {
        IntVector low = bytesAsInts(w, ql + 32 * (g & 1)).lanewise(VectorOperators.LSHR, 4 * (g >> 1)).and(0xF);
        IntVector top = high.lanewise(VectorOperators.LSHR, 2 * g).and(3).lanewise(VectorOperators.LSHL, 4);
        return toFloat(low.or(top).sub(32));
    }

    @Override
    void dequantize(MemorySegment w, long rowOffset, int fromCol, int toCol, float[] out, int outOffset) {
        if (!Lanes.QUANT_VECTORS) {
            scalarDequantize(w, rowOffset, fromCol, toCol, out, outOffset);
            return;
        }
        for (int b = fromCol / 256, o = outOffset; b < toCol / 256; b++, o += 256) {
            long at = rowOffset + (long) b * BYTES;
            float d = half(w, at + 208);
            for (int h = 0; h < 2; h++) {
                long ql = at + 64 * h;
                long qh = at + 128 + 32 * h;
                long scales = w.get(Lanes.LONG, at + 192 + 8 * h);
                int oh = o + 128 * h;
                for (int l = 0; l < 32; l += L) {
                    IntVector high = bytesAsInts(w, qh + l);
                    for (int g = 0; g < 4; g++) {
                        quants(w, ql + l, high, g).mul(d * scale(scales, l / 16 + 2 * g)).intoArray(out, oh + 32 * g + l);
                    }
                }
            }
        }
    }

    @Override
    float scalarValue(MemorySegment w, long blockOffset, int i) {
        int h = i / 128;
        int r = i % 128;
        int l = r % 32;
        int group = r / 32; // which of q1..q4
        int ql = u8(w, blockOffset + 64 * h + l + (group % 2 == 1 ? 32 : 0));
        int low = group < 2 ? ql & 0xF : ql >> 4;
        int high = (u8(w, blockOffset + 128 + 32 * h + l) >> (2 * group)) & 3;
        return half(w, blockOffset + 208) * scale(w, blockOffset, i / 16) * ((low | (high << 4)) - 32);
    }
}
