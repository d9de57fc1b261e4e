package cascadelm.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class QuantizerTest {

    private static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    @ParameterizedTest
    @EnumSource(TensorType.class)
    void encodesTheDocumentedNumberOfBytes(TensorType type) {
        assertEquals(4 * type.bytesPerBlock, Quantizer.quantize(type, new float[4 * type.blockSize]).length);
    }

    @Test
    void rejectsPartialBlocks() {
        assertThrows(IllegalArgumentException.class, () -> Quantizer.quantize(TensorType.Q4_K, new float[255]));
    }

    @Test
    void floatFormatsRoundTripWithinTheirPrecision() {
        float[] v = gaussian(1024, 11);
        v[0] = 65504f; // largest half
        v[1] = 6.0e-8f; // a half subnormal
        double[] f32 = ReferenceDecoder.decode(TensorType.F32, Quantizer.quantize(TensorType.F32, v), v.length);
        double[] f16 = ReferenceDecoder.decode(TensorType.F16, Quantizer.quantize(TensorType.F16, v), v.length);
        double[] bf16 = ReferenceDecoder.decode(TensorType.BF16, Quantizer.quantize(TensorType.BF16, v), v.length);
        for (int i = 0; i < v.length; i++) {
            assertEquals(v[i], f32[i], 0.0);
            assertEquals(v[i], f16[i], i == 1 ? 3e-8 : Math.abs(v[i]) * 0x1p-11 + 1e-7, "f16 value " + i);
            assertEquals(v[i], bf16[i], Math.abs(v[i]) * 0x1p-8, "bf16 value " + i);
        }
    }

    @Test
    void bf16RoundsToNearestEven() {
        // 1 + 2^-8 lies halfway between the bf16 neighbours 1 and 1 + 2^-7: ties go to the even one, 1.
        assertEquals((short) 0x3F80, Quantizer.toBf16(1 + 0x1p-8f));
        // 1 + 3·2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
        assertEquals((short) 0x3F82, Quantizer.toBf16(1 + 3 * 0x1p-8f));
    }

    @Test
    void q8_0ErrorIsAtMostHalfAStep() {
        for (long seed = 20; seed < 25; seed++) {
            float[] v = gaussian(32 * 64, seed);
            double[] y = ReferenceDecoder.decode(TensorType.Q8_0, Quantizer.quantize(TensorType.Q8_0, v), v.length);
            for (int b = 0; b < 64; b++) {
                double amax = 0;
                for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(v[32 * b + i]));
                double step = amax / 127;
                for (int i = 0; i < 32; i++) {
                    // half a step of rounding plus the f16 rounding of the step itself (≤ 2^-11 of 127 steps)
                    assertEquals(v[32 * b + i], y[32 * b + i], step * (0.5 + 127 * 0x1p-11), "seed " + seed + " value " + (32 * b + i));
                }
            }
        }
    }

    @Test
    void q4_0MapsTheLargestMagnitudeToMinusEightAsGgmlDoes() {
        float[] v = new float[32];
        v[0] = -4f; // largest magnitude, negative: d = -4 / -8 = 0.5
        v[1] = 3.5f; // 3.5 / 0.5 + 8.5 = 15.5 → 15
        v[17] = 1f; // 1 / 0.5 + 8.5 = 10.5 → 10
        byte[] q = Quantizer.quantize(TensorType.Q4_0, v);
        assertEquals(0x00, q[0] & 0xFF); // 0.5 as f16 is 0x3800
        assertEquals(0x38, q[1] & 0xFF);
        assertEquals(0x80, q[2] & 0xFF); // low: value 0 → (int) 0.5 = 0; high: value 16 = 0 → 8
        assertEquals(0xAF, q[3] & 0xFF); // low: value 1 → 15; high: value 17 → 10
        assertEquals(0x88, q[4] & 0xFF); // zeros sit at the offset 8
    }

    @ParameterizedTest
    @EnumSource(value = TensorType.class, names = {"Q4_0", "Q4_K", "Q6_K", "Q8_0"})
    void quantizedRoundTripKeepsTheSignal(TensorType type) {
        // Relative RMS error bounds with room above what each format achieves on Gaussian data.
        double bound = switch (type) {
            case Q8_0 -> 0.01;
            case Q6_K -> 0.04;
            case Q4_K -> 0.12;
            default -> 0.15;
        };
        for (long seed = 30; seed < 33; seed++) {
            float[] v = gaussian(256 * 16, seed);
            double[] y = ReferenceDecoder.decode(type, Quantizer.quantize(type, v), v.length);
            double err = 0, norm = 0;
            for (int i = 0; i < v.length; i++) {
                err += (v[i] - y[i]) * (v[i] - y[i]);
                norm += v[i] * (double) v[i];
            }
            double rel = Math.sqrt(err / norm);
            assertTrue(rel < bound, type + " seed " + seed + " relative RMS error " + rel);
        }
    }

    @ParameterizedTest
    @EnumSource(value = TensorType.class, names = {"Q4_K", "Q6_K"})
    void kQuantsRepresentConstantAndZeroBlocks(TensorType type) {
        float[] zeros = new float[256];
        assertArrayEquals(new double[256], ReferenceDecoder.decode(type, Quantizer.quantize(type, zeros), 256));
        float[] ramp = new float[256];
        // −8..7 lies on both grids (Q4_K step 1 from min −8, Q6_K step 0.25); only the f16 scales round.
        for (int i = 0; i < 256; i++) ramp[i] = (i % 16) - 8;
        double[] y = ReferenceDecoder.decode(type, Quantizer.quantize(type, ramp), 256);
        for (int i = 0; i < 256; i++) assertEquals(ramp[i], y[i], 0.02, type + " value " + i);
    }
}
