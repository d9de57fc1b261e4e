package cascadelm.model.llama;

import cascadelm.kernels.cpu.CpuBackend;
import cascadelm.model.ModelFixtures;
import cascadelm.model.cache.CacheSettings;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.math.BigDecimal;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Session#roundRowsToBf16}: the CPU reference the GPU tests compare the device cache with. */
class Bf16RowsTest {

    /** Nearest bfloat16 by exact decimal arithmetic, ties to the even mantissa: an independent reference. */
    private static float nearestBf16(float x) {
        int bits = Float.floatToRawIntBits(x);
        float down = Float.intBitsToFloat(bits & 0xFFFF0000);            // toward zero
        float up = Float.intBitsToFloat((bits & 0xFFFF0000) + 0x10000);  // away from zero
        int c = new BigDecimal(x).subtract(new BigDecimal(down)).abs()
                .compareTo(new BigDecimal(up).subtract(new BigDecimal(x)).abs());
        if (c != 0) return c < 0 ? down : up;
        return ((bits >>> 16) & 1) == 0 ? down : up;
    }

    @Test
    void roundsToTheNearestBf16TiesToEven() {
        float[] ties = {1f + 0x1p-8f, 1f + 3 * 0x1p-8f, -(1f + 0x1p-8f), 0x1p-126f * (1f + 0x1p-8f)};
        float[] expected = {1f, 1f + 0x1p-6f, -1f, 0x1p-126f};
        float[] a = ties.clone();
        Session.roundToBf16(a, a.length);
        assertArrayEquals(expected, a);
        Random r = new Random(3);
        float[] x = new float[100_000];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(21) - 10));
        }
        float[] y = x.clone();
        Session.roundToBf16(y, y.length);
        for (int i = 0; i < x.length; i++) assertEquals(nearestBf16(x[i]), y[i], "rounding of " + x[i]);
    }

    private static void assertArrayEquals(float[] expected, float[] actual) {
        org.junit.jupiter.api.Assertions.assertArrayEquals(expected, actual);
    }

    /**
     * With bf16 rows every cached key and value is a bf16 value, and the logits move by a bounded amount: on the
     * llama3-bpe fixture (full cache, 104 tokens) at most 8e-3 of the largest |logit| (measured 6.7e-3, the same as
     * the GPU's bf16 device cache against Hugging Face's logits), and not by nothing.
     */
    @Test
    void cachedRowsAreBf16AndTheLogitsMoveBoundedly() throws IOException {
        var manifest = ModelFixtures.manifest("llama3-bpe");
        int[] ids = Arrays.copyOf(ModelFixtures.ints(manifest.get("tokens").get("ids")), 104);
        CacheSettings s = CacheSettings.from(Map.of("cache", "full"));
        try (CpuBackend cpu = new CpuBackend(1);
             LlamaModel model = LlamaModel.open(ModelFixtures.file(manifest.get("variants").get("F32").get("gguf").asText()));
             Session plain = (Session) ModelSessions.open(model, cpu, s, ids.length, 8);
             Session rounded = (Session) ModelSessions.open(model, cpu, s, ids.length, 8)) {
            rounded.roundRowsToBf16(true);
            double worst = 0;
            for (int at = 0; at < ids.length; at += 8) {
                float[] a = plain.forward(ids, at, 8, null).clone(), b = rounded.forward(ids, at, 8, null);
                double scale = 0, err = 0;
                for (int j = 0; j < a.length; j++) {
                    scale = Math.max(scale, Math.abs(a[j]));
                    err = Math.max(err, Math.abs(a[j] - b[j]));
                }
                worst = Math.max(worst, err / scale);
            }
            assertTrue(worst > 0 && worst <= 8e-3, "worst |Δ|/max|logit| " + worst);
            ModelConfig c = model.config();
            float[] k = new float[ids.length * c.headDim()], v = new float[ids.length * c.headDim()];
            for (int l = 0; l < c.layers(); l++) {
                for (int g = 0; g < c.kvHeads(); g++) {
                    rounded.cache().read(l, g, k, v);
                    for (int i = 0; i < k.length; i++) {
                        assertEquals(0, Float.floatToRawIntBits(k[i]) & 0xFFFF, "key element " + i + " of layer " + l);
                        assertEquals(0, Float.floatToRawIntBits(v[i]) & 0xFFFF, "value element " + i + " of layer " + l);
                    }
                }
            }
        }
    }
}
