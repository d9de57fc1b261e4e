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

    @Override
    float dot(MemorySegment w, long rowOffset, float[] x, int xOffset, int cols) {
        if (!Lanes.QUANT_VECTORS) {
            return scalarDot(w, rowOffset, x, xOffset, cols);
        }
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        for (int b = 0; b < cols / 256; b++) {
            long at = rowOffset + (long) b * BYTES;
            float d = half(w, at + 208);
            for (int h = 0; h < 2; h++) {
                long ql = at + 64 * h;
                long qh = at + 128 + 32 * h;
                int xAt = xOffset + 256 * b + 128 * h;
                for (int l = 0; l < 32; l += L) {
                    int sub = 8 * h + l / 16;
                    ByteVector a = ByteVector.fromMemorySegment(B, w, ql + l, LE);
                    ByteVector c = ByteVector.fromMemorySegment(B, w, ql + 32 + l, LE);
                    ByteVector hi = ByteVector.fromMemorySegment(B, w, qh + l, LE);
                    acc0 = q1(a, hi).mul(d * scale(w, at, sub)).fma(FloatVector.fromArray(F, x, xAt + l), acc0);
                    acc1 = q2(c, hi).mul(d * scale(w, at, sub + 2)).fma(FloatVector.fromArray(F, x, xAt + 32 + l), acc1);
                    acc0 = q3(a, hi).mul(d * scale(w, at, sub + 4)).fma(FloatVector.fromArray(F, x, xAt + 64 + l), acc0);
                    acc1 = q4(c, hi).mul(d * scale(w, at, sub + 6)).fma(FloatVector.fromArray(F, x, xAt + 96 + l), acc1);
                }
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    // The high two bits are moved to bits 4..5 by shifting the qh byte, then masked with 0x30.
    private static FloatVector q1(ByteVector ql, ByteVector qh) {
        return signed(ql.and((byte) 0xF).or(qh.lanewise(VectorOperators.LSHL, 4).and((byte) 0x30)));
    }

    private static FloatVector q2(ByteVector ql, ByteVector qh) {
        return signed(ql.and((byte) 0xF).or(qh.lanewise(VectorOperators.LSHL, 2).and((byte) 0x30)));
    }

    private static FloatVector q3(ByteVector ql, ByteVector qh) {
        return signed(ql.lanewise(VectorOperators.LSHR, 4).or(qh.and((byte) 0x30)));
    }

    private static FloatVector q4(ByteVector ql, ByteVector qh) {
        return signed(ql.lanewise(VectorOperators.LSHR, 4).or(qh.lanewise(VectorOperators.LSHR, 2).and((byte) 0x30)));
    }

    private static FloatVector signed(ByteVector q) {
        return (FloatVector) q.sub((byte) 32).castShape(F, 0);
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
                int oh = o + 128 * h;
                for (int l = 0; l < 32; l += L) {
                    int sub = 8 * h + l / 16;
                    ByteVector a = ByteVector.fromMemorySegment(B, w, ql + l, LE);
                    ByteVector c = ByteVector.fromMemorySegment(B, w, ql + 32 + l, LE);
                    ByteVector hi = ByteVector.fromMemorySegment(B, w, qh + l, LE);
                    q1(a, hi).mul(d * scale(w, at, sub)).intoArray(out, oh + l);
                    q2(c, hi).mul(d * scale(w, at, sub + 2)).intoArray(out, oh + 32 + l);
                    q3(a, hi).mul(d * scale(w, at, sub + 4)).intoArray(out, oh + 64 + l);
                    q4(c, hi).mul(d * scale(w, at, sub + 6)).intoArray(out, oh + 96 + l);
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
