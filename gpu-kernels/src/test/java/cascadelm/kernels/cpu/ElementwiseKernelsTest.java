package cascadelm.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import cascadelm.kernels.Rope;

/** Row-wise kernels against float64 references; relative tolerances of a few float32 roundings. */
class ElementwiseKernelsTest {
    private static final CpuBackend BACKEND = new CpuBackend(2);

    @AfterAll
    static void close() {
        BACKEND.close();
    }

    private static float[] gaussian(Random r, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * scale);
        return v;
    }

    @Test
    void rmsNormScalesEachRowByItsRootMeanSquare() {
        for (long seed = 1; seed <= 3; seed++) {
            Random r = new Random(seed);
            int n = (int) seed * 7, dim = 4096 + 5;
            float[] x = gaussian(r, n * dim, 3);
            float[] w = gaussian(r, dim, 1);
            float[] out = new float[n * dim];
            BACKEND.rmsNorm(x, w, out, n, dim, 1e-5f);
            for (int t = 0; t < n; t++) {
                double ss = 0;
                for (int i = 0; i < dim; i++) ss += (double) x[t * dim + i] * x[t * dim + i];
                double inv = 1 / Math.sqrt(ss / dim + 1e-5);
                for (int i = 0; i < dim; i++) {
                    double ref = x[t * dim + i] * inv * w[i];
                    assertEquals(ref, out[t * dim + i], 1e-5 * Math.abs(ref) + 1e-7, "seed " + seed + " row " + t + " [" + i + "]");
                }
            }
        }
    }

    @Test
    void rmsNormMayWriteInPlace() {
        Random r = new Random(9);
        float[] x = gaussian(r, 64, 1);
        float[] w = gaussian(r, 64, 1);
        float[] copy = new float[64];
        BACKEND.rmsNorm(x, w, copy, 1, 64, 1e-6f);
        BACKEND.rmsNorm(x, w, x, 1, 64, 1e-6f);
        assertEquals(java.util.Arrays.toString(copy), java.util.Arrays.toString(x));
    }

    private static void checkRope(boolean neox, int rotary, int headDim, long seed) {
        Random r = new Random(seed);
        int n = 5, heads = 3;
        Rope rope = Rope.standard(rotary, 10000, neox);
        float[] x = gaussian(r, n * heads * headDim, 1);
        float[] before = x.clone();
        int[] positions = {0, 1, 17, 4095, 70000};
        BACKEND.rope(x, n, heads, headDim, positions, rope);
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < heads; h++) {
                int base = (t * heads + h) * headDim;
                for (int i = 0; i < rotary / 2; i++) {
                    int a = neox ? base + i : base + 2 * i;
                    int b = neox ? base + i + rotary / 2 : base + 2 * i + 1;
                    double angle = positions[t] * (double) rope.inverseFrequencies()[i];
                    double ra = before[a] * Math.cos(angle) - before[b] * Math.sin(angle);
                    double rb = before[a] * Math.sin(angle) + before[b] * Math.cos(angle);
                    assertEquals(ra, x[a], 1e-5, "neox=" + neox + " t=" + t + " h=" + h + " pair " + i);
                    assertEquals(rb, x[b], 1e-5, "neox=" + neox + " t=" + t + " h=" + h + " pair " + i);
                }
                for (int i = rotary; i < headDim; i++) {
                    assertEquals(before[base + i], x[base + i], 0f, "dimensions past rotaryDims stay");
                }
            }
        }
    }

    @Test
    void ropeRotatesAdjacentPairsInTheLlamaLayout() {
        checkRope(false, 64, 64, 21);
        checkRope(false, 32, 48, 22);
    }

    @Test
    void ropeRotatesHalvesInTheNeoxLayout() {
        checkRope(true, 128, 128, 23);
        checkRope(true, 32, 80, 24);
    }

    @Test
    void ropeFromTheTableMatchesTheDirectAnglesBitForBit() {
        // Positions below CpuBackend.ROPE_TABLE_POSITIONS come from a table of cos/sin; the same float
        // values as the angles formed per row. A second rope (another theta) must not reuse the first's table.
        for (double theta : new double[] {10000, 500000}) {
            Rope rope = Rope.standard(64, theta, false);
            int heads = 2, headDim = 64;
            int[] positions = {3, 0, 40000, 1000, CpuBackend.ROPE_TABLE_POSITIONS - 1, CpuBackend.ROPE_TABLE_POSITIONS};
            int n = positions.length;
            float[] x = gaussian(new Random(40), n * heads * headDim, 1);
            float[] expected = x.clone();
            for (int t = 0; t < n; t++) {
                RopeKernel.rotateRow(expected, t * heads * headDim, heads, headDim, positions[t], rope, new float[32], new float[32]);
            }
            BACKEND.rope(x, n, heads, headDim, positions, rope);
            assertEquals(java.util.Arrays.toString(expected), java.util.Arrays.toString(x), "theta " + theta);
        }
    }

    @Test
    void softmaxNormalisesOnlyTheGivenRange() {
        for (long seed = 30; seed < 33; seed++) {
            Random r = new Random(seed);
            int offset = 3, length = 1000 + (int) seed;
            float[] x = gaussian(r, offset + length + 4, 20);
            x[offset + 5] = 300f; // exp would overflow without subtracting the max
            float[] before = x.clone();
            BACKEND.softmax(x, offset, length);
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int i = 0; i < length; i++) max = Math.max(max, before[offset + i]);
            for (int i = 0; i < length; i++) sum += Math.exp(before[offset + i] - max);
            for (int i = 0; i < length; i++) {
                double ref = Math.exp(before[offset + i] - max) / sum;
                assertEquals(ref, x[offset + i], 1e-5 * ref + 1e-12, "seed " + seed + " [" + i + "]");
            }
            assertEquals(before[0], x[0]);
            assertEquals(before[offset + length], x[offset + length]);
        }
    }

    @Test
    void swiGluIsSiluOfGateTimesUp() {
        for (int length : new int[] {13, 100_003}) {
            Random r = new Random(length);
            float[] g = gaussian(r, length, 4);
            float[] u = gaussian(r, length, 1);
            float[] before = g.clone();
            BACKEND.swiGlu(g, u, length);
            for (int i = 0; i < length; i++) {
                double ref = before[i] / (1 + Math.exp(-before[i])) * u[i];
                assertEquals(ref, g[i], 1e-5 * Math.abs(ref) + 1e-7, "length " + length + " [" + i + "]");
            }
        }
    }

    @Test
    void addAccumulatesOnlyTheGivenLength() {
        for (int length : new int[] {19, 200_001}) {
            Random r = new Random(length);
            float[] a = gaussian(r, length + 2, 1);
            float[] b = gaussian(r, length + 2, 1);
            float[] before = a.clone();
            BACKEND.add(a, b, length);
            for (int i = 0; i < length; i++) assertEquals(before[i] + b[i], a[i], 0f);
            assertEquals(before[length], a[length]);
        }
    }
}
