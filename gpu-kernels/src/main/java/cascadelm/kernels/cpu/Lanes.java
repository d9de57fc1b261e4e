package cascadelm.kernels.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/** The vector shapes every CPU kernel shares: float lanes, and byte/short species with as many lanes. */
final class Lanes {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();

    /**
     * Quantized blocks are 16 or 32 values wide, so their vector paths need 8 or 16 float lanes
     * (AVX2 or AVX-512); other widths take the scalar loops.
     */
    static final boolean QUANT_VECTORS = L == 8 || L == 16;
    static final VectorSpecies<Byte> B = QUANT_VECTORS ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : null;
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);

    private Lanes() {
    }

    /**
     * L bytes widened to int lanes (sign-extended). Nibbles are then split with int shifts: x86 has no
     * byte-lane shift, so shifting before widening costs several instructions more.
     */
    static IntVector bytesAsInts(MemorySegment w, long offset) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, offset, LE).castShape(I, 0);
    }

    /** {@code Σ_i a[i] · x[xOffset + i]} for i in [0, n). Four accumulators hide the FMA latency. */
    static float dot(float[] a, float[] x, int xOffset, int n) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (int end = n - 4 * L; i <= end; i += 4 * L) {
            a0 = FloatVector.fromArray(F, a, i).fma(FloatVector.fromArray(F, x, xOffset + i), a0);
            a1 = FloatVector.fromArray(F, a, i + L).fma(FloatVector.fromArray(F, x, xOffset + i + L), a1);
            a2 = FloatVector.fromArray(F, a, i + 2 * L).fma(FloatVector.fromArray(F, x, xOffset + i + 2 * L), a2);
            a3 = FloatVector.fromArray(F, a, i + 3 * L).fma(FloatVector.fromArray(F, x, xOffset + i + 3 * L), a3);
        }
        for (int end = n - L; i <= end; i += L) {
            a0 = FloatVector.fromArray(F, a, i).fma(FloatVector.fromArray(F, x, xOffset + i), a0);
        }
        float sum = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += a[i] * x[xOffset + i];
        }
        return sum;
    }

    static FloatVector toFloat(IntVector v) {
        return (FloatVector) v.convert(VectorOperators.I2F, 0);
    }

}
