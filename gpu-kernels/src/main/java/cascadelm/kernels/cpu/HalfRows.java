package cascadelm.kernels.cpu;

import static cascadelm.kernels.cpu.Lanes.F;
import static cascadelm.kernels.cpu.Lanes.I;
import static cascadelm.kernels.cpu.Lanes.L;
import static cascadelm.kernels.cpu.Lanes.LE;
import static cascadelm.kernels.cpu.Lanes.S;

import java.lang.foreign.MemorySegment;

import cascadelm.kernels.TensorType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/** Rows of 16-bit floats (IEEE half or bfloat16), widened to float32 lane by lane. */
abstract class HalfRows extends RowKernel {
    HalfRows(TensorType type) {
        super(type);
    }

    /** The float32 values of L 16-bit codes, each in the low 16 bits of an int lane (sign-extended). */
    abstract FloatVector widen(IntVector bits);

    private FloatVector load(MemorySegment w, long offset) {
        return widen((IntVector) ShortVector.fromMemorySegment(S, w, offset, LE).convertShape(VectorOperators.S2I, I, 0));
    }

    @Override
    final float dot(MemorySegment w, long rowOffset, float[] x, int xOffset, int cols) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        int c = 0;
        for (int end = cols - 2 * L; c <= end; c += 2 * L) {
            long at = rowOffset + 2L * c;
            a0 = load(w, at).fma(FloatVector.fromArray(F, x, xOffset + c), a0);
            a1 = load(w, at + 2L * L).fma(FloatVector.fromArray(F, x, xOffset + c + L), a1);
        }
        for (int end = cols - L; c <= end; c += L) {
            a0 = load(w, rowOffset + 2L * c).fma(FloatVector.fromArray(F, x, xOffset + c), a0);
        }
        float sum = a0.add(a1).reduceLanes(VectorOperators.ADD);
        for (; c < cols; c++) {
            sum += scalarValue(w, rowOffset + 2L * c, 0) * x[xOffset + c];
        }
        return sum;
    }

    @Override
    final void dequantize(MemorySegment w, long rowOffset, int fromCol, int toCol, float[] out, int outOffset) {
        int c = fromCol;
        for (int end = toCol - L; c <= end; c += L) {
            load(w, rowOffset + 2L * c).intoArray(out, outOffset + c - fromCol);
        }
        for (; c < toCol; c++) {
            out[outOffset + c - fromCol] = scalarValue(w, rowOffset + 2L * c, 0);
        }
    }

    static final class F16 extends HalfRows {
        F16() {
            super(TensorType.F16);
        }

        @Override
        FloatVector widen(IntVector bits) {
            IntVector magnitude = bits.and(0x7FFF);
            IntVector shifted = magnitude.lanewise(VectorOperators.LSHL, 13);
            // Re-biasing the exponent by a multiply also scales half subnormals into float normals exactly.
            IntVector finite = shifted.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
            IntVector special = shifted.or(0x7F800000); // infinity and NaN keep their payload
            IntVector value = finite.blend(special, magnitude.compare(VectorOperators.GE, 0x7C00));
            return value.or(bits.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
        }

        @Override
        float scalarValue(MemorySegment w, long blockOffset, int i) {
            return half(w, blockOffset + 2L * i);
        }

        /**
         * Widens the row to floats in L1-sized pieces with {@link Float#float16ToFloat}, which C2 compiles to
         * 8 or 16 conversions per instruction (F16C / AVX-512), then multiplies the pieces with x: about half
         * the instructions of widening bit by bit in {@link #widen}, and exact for every half (subnormals,
         * infinities, NaN) because the conversion is the JDK's.
         */
        @Override
        float decodeDot(MemorySegment w, long rowOffset, float[] x, int xOffset, int cols, float[] scratch) {
            float sum = 0;
            for (int c0 = 0; c0 < cols; c0 += SCRATCH) {
                int n = Math.min(SCRATCH, cols - c0);
                toFloats(w, rowOffset + 2L * c0, scratch, n);
                sum += Lanes.dot(scratch, x, xOffset + c0, n);
            }
            return sum;
        }

        /** A plain loop on purpose: C2 vectorizes it. */
        private static void toFloats(MemorySegment w, long offset, float[] out, int n) {
            for (int i = 0; i < n; i++) {
                out[i] = Float.float16ToFloat(w.get(Lanes.SHORT, offset + 2L * i));
            }
        }
    }

    static final class Bf16 extends HalfRows {
        Bf16() {
            super(TensorType.BF16);
        }

        @Override
        FloatVector widen(IntVector bits) {
            return bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
        }

        @Override
        float scalarValue(MemorySegment w, long blockOffset, int i) {
            return Float.intBitsToFloat(w.get(Lanes.SHORT, blockOffset + 2L * i) << 16);
        }
    }
}
