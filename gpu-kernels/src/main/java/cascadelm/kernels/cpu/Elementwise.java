package cascadelm.kernels.cpu;

import static cascadelm.kernels.cpu.Lanes.F;
import static cascadelm.kernels.cpu.Lanes.L;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/** The row-wise and element-wise kernels of the forward pass, vectorised, single-threaded per call. */
final class Elementwise {
    private Elementwise() {
    }

    static void rmsNorm(float[] x, int xOffset, float[] weight, float[] out, int outOffset, int dim, float eps) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int end = dim - L; i <= end; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, xOffset + i);
            acc = v.fma(v, acc);
        }
        float ss = acc.reduceLanes(VectorOperators.ADD);
        for (; i < dim; i++) {
            ss += x[xOffset + i] * x[xOffset + i];
        }
        float inv = (float) (1.0 / Math.sqrt(ss / dim + eps));
        i = 0;
        for (int end = dim - L; i <= end; i += L) {
            FloatVector.fromArray(F, x, xOffset + i).mul(inv).mul(FloatVector.fromArray(F, weight, i)).intoArray(out, outOffset + i);
        }
        for (; i < dim; i++) {
            out[outOffset + i] = x[xOffset + i] * inv * weight[i];
        }
    }

    /** Softmax in place over {@code x[offset, offset + length)}, the max subtracted first so exp cannot overflow. */
    static void softmax(float[] x, int offset, int length) {
        float max = max(x, offset, length);
        float sum = expMinus(x, offset, length, max);
        scale(x, offset, length, 1 / sum);
    }

    static float max(float[] x, int offset, int length) {
        FloatVector m = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (int end = length - L; i <= end; i += L) {
            m = m.max(FloatVector.fromArray(F, x, offset + i));
        }
        float max = m.reduceLanes(VectorOperators.MAX);
        for (; i < length; i++) {
            max = Math.max(max, x[offset + i]);
        }
        return max;
    }

    /** {@code x[i] = exp(x[i] − max)} over the range; returns the sum of the results. */
    static float expMinus(float[] x, int offset, int length, float max) {
        FloatVector sum = FloatVector.zero(F);
        int i = 0;
        for (int end = length - L; i <= end; i += L) {
            FloatVector e = FloatVector.fromArray(F, x, offset + i).sub(max).lanewise(VectorOperators.EXP);
            e.intoArray(x, offset + i);
            sum = sum.add(e);
        }
        float s = sum.reduceLanes(VectorOperators.ADD);
        for (; i < length; i++) {
            float e = (float) Math.exp(x[offset + i] - max);
            x[offset + i] = e;
            s += e;
        }
        return s;
    }

    static void scale(float[] x, int offset, int length, float factor) {
        int i = 0;
        for (int end = length - L; i <= end; i += L) {
            FloatVector.fromArray(F, x, offset + i).mul(factor).intoArray(x, offset + i);
        }
        for (; i < length; i++) {
            x[offset + i] *= factor;
        }
    }

    /** {@code gate[i] = gate[i] / (1 + exp(−gate[i])) · up[i]} over {@code [from, to)}. */
    static void swiGlu(float[] gate, float[] up, int from, int to) {
        int i = from;
        for (int end = to - L; i <= end; i += L) {
            FloatVector g = FloatVector.fromArray(F, gate, i);
            FloatVector silu = g.div(g.neg().lanewise(VectorOperators.EXP).add(1f));
            silu.mul(FloatVector.fromArray(F, up, i)).intoArray(gate, i);
        }
        for (; i < to; i++) {
            float g = gate[i];
            gate[i] = (float) (g / (1 + Math.exp(-g))) * up[i];
        }
    }

    /** {@code a[aOffset + i] += b[bOffset + i]} for i < length. */
    static void add(float[] a, int aOffset, float[] b, int bOffset, int length) {
        int i = 0;
        for (int end = length - L; i <= end; i += L) {
            FloatVector.fromArray(F, a, aOffset + i).add(FloatVector.fromArray(F, b, bOffset + i)).intoArray(a, aOffset + i);
        }
        for (; i < length; i++) {
            a[aOffset + i] += b[bOffset + i];
        }
    }
}
