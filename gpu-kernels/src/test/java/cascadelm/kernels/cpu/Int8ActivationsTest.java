package cascadelm.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * The 8-bit activation blocks of {@link Int8Activations}, against values worked out by hand from the rule
 * (d = max|x| / 127, q = x / d rounded half away from zero) and against the rounding bound |x − d·q| ≤ d / 2.
 */
class Int8ActivationsTest {
    /** The quantized value j of block b, recovered from the stored pairs. */
    private static int q(Int8Activations a, int b, int j) {
        int lo = a.pairs[b * 32 + 2 * (j % 16)];
        return j < 16 ? lo : a.pairs[b * 32 + 2 * (j % 16) + 1] + 16 * lo;
    }

    @Test
    void handWorkedBlock() {
        // max |x| = 12.7: d = 0.1; values chosen at and around the ties (0.25 → 2.5 → 3, -0.35 → -3.5 → -4).
        float[] x = new float[32];
        x[0] = 12.7f;
        x[1] = -12.7f;
        x[2] = 0.25f;
        x[3] = -0.35f;
        x[16] = 1.0f;
        x[17] = -0.04f;
        Int8Activations a = new Int8Activations();
        a.quantize(x, 0, 32);
        assertEquals(0.1f, a.scales[0], 1e-7f);
        assertEquals(127, q(a, 0, 0));
        assertEquals(-127, q(a, 0, 1));
        assertEquals(3, q(a, 0, 2));
        assertEquals(-4, q(a, 0, 3));
        assertEquals(10, q(a, 0, 16));
        assertEquals(0, q(a, 0, 17));
        // x_16 − 16·x_0 is what is stored beside x_0
        assertEquals(10 - 16 * 127, a.pairs[1]);
        // −8 · (127 − 127 + 3 − 4)
        assertEquals(8, a.lowOffsets[0]);
    }

    @Test
    void zeroBlockQuantizesToZeros() {
        Int8Activations a = new Int8Activations();
        a.quantize(new float[64], 0, 64);
        for (int b = 0; b < 2; b++) {
            assertEquals(0f, a.scales[b]);
            for (int j = 0; j < 32; j++) assertEquals(0, q(a, b, j));
        }
    }

    @Test
    void everyValueWithinHalfAStepOfItsBlock() {
        Random r = new Random(3);
        int cols = 32 * 50;
        float[] x = new float[cols + 7];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * Math.exp(4 * r.nextGaussian()));
        Int8Activations a = new Int8Activations();
        a.quantize(x, 7, cols); // from an offset
        for (int b = 0; b < cols / 32; b++) {
            float d = a.scales[b];
            for (int j = 0; j < 32; j++) {
                float v = x[7 + 32 * b + j];
                assertTrue(Math.abs(q(a, b, j)) <= 127);
                assertTrue(Math.abs(v - d * q(a, b, j)) <= d / 2 * (1 + 1e-6), "block " + b + " value " + j + ": " + v);
            }
        }
    }

    @Test
    void rejectsPartialBlocks() {
        assertThrows(IllegalArgumentException.class, () -> new Int8Activations().quantize(new float[40], 0, 40));
    }
}
