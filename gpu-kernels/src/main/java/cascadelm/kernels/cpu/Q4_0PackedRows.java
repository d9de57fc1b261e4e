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
 * Q4_0 re-laid for the vector loops ({@link PackedMatrix}): a row of n blocks is the n f16 scales, then the
 * n blocks of 16 quant bytes. Each quant byte is the GGUF byte XOR 0x88, so that both nibbles hold q − 8 as
 * 4-bit two's complement: value j < 16 of a block is the low nibble of byte j, value 16 + j the high one,
 * and value = d · nibble. The same bytes as GGUF (18 per block), but a row's scales convert to float in one
 * vectorized pass, the block loop reads plain runs of quants, and the signed nibbles come out of two shifts
 * (low) and one (high) of the sign-extended byte, with no offset to subtract afterwards.
 */
final class Q4_0PackedRows extends RowKernel {
    static final Q4_0PackedRows INSTANCE = new Q4_0PackedRows();

    private Q4_0PackedRows() {
        super(TensorType.Q4_0);
    }

    /** Packs {@code blocks} GGUF blocks at {@code src} into one packed row at {@code dst}. */
    static void pack(MemorySegment from, long src, MemorySegment to, long dst, int blocks) {
        long quants = dst + 2L * blocks;
        for (int b = 0; b < blocks; b++) {
            long at = src + 18L * b;
            to.set(Lanes.SHORT, dst + 2L * b, from.get(Lanes.SHORT, at));
            for (int j = 0; j < 16; j += 8) {
                to.set(Lanes.LONG, quants + 16L * b + j, from.get(Lanes.LONG, at + 2 + j) ^ 0x8888888888888888L);
            }
        }
    }

    @Override
    float dot(MemorySegment w, long rowOffset, float[] x, int xOffset, int cols) {
        return decodeDot(w, rowOffset, x, xOffset, cols, new float[cols / 32]);
    }

    /**
     * The row's scales are first widened to floats in {@code scratch} (a plain loop C2 vectorizes, as in
     * {@link HalfRows.F16}), then each block is one broadcast scale times the block's two nibble dot products.
     * Blocks alternate between two accumulators so consecutive blocks do not wait on each other's FMA.
     */
    @Override
    float decodeDot(MemorySegment w, long rowOffset, float[] x, int xOffset, int cols, float[] scratch) {
        int blocks = cols / 32;
        scales(w, rowOffset, scratch, blocks);
        long quants = rowOffset + 2L * blocks;
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        for (int b = 0; b < blocks; b++) {
            FloatVector next = block(w, quants + 16L * b, x, xOffset + 32 * b).fma(FloatVector.broadcast(F, scratch[b]), acc1);
            acc1 = acc0;
            acc0 = next;
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    /** A plain loop on purpose: C2 vectorizes it. */
    private static void scales(MemorySegment w, long offset, float[] out, int n) {
        for (int i = 0; i < n; i++) {
            out[i] = Float.float16ToFloat(w.get(Lanes.SHORT, offset + 2L * i));
        }
    }

    /** Σ nibble · x over one block: low nibbles by a left then arithmetic right shift, high ones by one right shift. */
    private static FloatVector block(MemorySegment w, long at, float[] x, int xAt) {
        IntVector q = bytesAsInts(w, at);
        FloatVector s = toFloat(q.lanewise(VectorOperators.LSHL, 28).lanewise(VectorOperators.ASHR, 28))
                .mul(FloatVector.fromArray(F, x, xAt));
        s = toFloat(q.lanewise(VectorOperators.ASHR, 4)).fma(FloatVector.fromArray(F, x, xAt + 16), s);
        for (int j = L; j < 16; j += L) {
            q = bytesAsInts(w, at + j);
            s = toFloat(q.lanewise(VectorOperators.LSHL, 28).lanewise(VectorOperators.ASHR, 28))
                    .fma(FloatVector.fromArray(F, x, xAt + j), s);
            s = toFloat(q.lanewise(VectorOperators.ASHR, 4)).fma(FloatVector.fromArray(F, x, xAt + 16 + j), s);
        }
        return s;
    }

    @Override
    void dequantize(MemorySegment w, long rowOffset, int fromCol, int toCol, float[] out, int outOffset) {
        throw new UnsupportedOperationException("packed Q4_0 rows keep their scales apart: dequantizing needs the row width");
    }

    @Override
    void dequantize(MemorySegment w, long rowOffset, int rowCols, int fromCol, int toCol, float[] out, int outOffset) {
        long quants = rowOffset + 2L * (rowCols / 32);
        for (int b = fromCol / 32, o = outOffset; b < toCol / 32; b++, o += 32) {
            float d = half(w, rowOffset + 2L * b);
            for (int j = 0; j < 16; j += L) {
                IntVector q = bytesAsInts(w, quants + 16L * b + j);
                toFloat(q.lanewise(VectorOperators.LSHL, 28).lanewise(VectorOperators.ASHR, 28)).mul(d).intoArray(out, o + j);
                toFloat(q.lanewise(VectorOperators.ASHR, 4)).mul(d).intoArray(out, o + 16 + j);
            }
        }
    }

    @Override
    float scalarValue(MemorySegment w, long blockOffset, int i) {
        throw new UnsupportedOperationException("packed Q4_0 is used only where the vector paths run");
    }

    /** Value {@code i} of block {@code b} of a packed row of {@code blocks} blocks, decoded plainly: for tests. */
    static float value(MemorySegment w, long rowOffset, int blocks, int b, int i) {
        int q = w.get(ValueLayout.JAVA_BYTE, rowOffset + 2L * blocks + 16L * b + (i & 15));
        int nibble = i < 16 ? (q << 28) >> 28 : q >> 4;
        return half(w, rowOffset + 2L * b) * nibble;
    }
}
