package cascadelm.model.gguf;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.cpu.CpuBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every supported tensor encoding, written by tools/reference's independent Python writer, decoded by
 * the engine: values must equal the writer's own dequantization exactly, and matrix products over the
 * encoded rows must match a float64 product over those values.
 */
class QuantizedTensorFixtureTest {
    private static final List<String> ORDER = List.of("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K");
    private static final int ROWS = 4, COLS = 512;

    @ParameterizedTest
    @ValueSource(strings = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void decodesExactlyAsTheReferenceWriter(String type) throws Exception {
        float[] expected = expected(type);
        try (GgufFile f = GgufFile.open(fixture("quant-types.gguf")); CpuBackend backend = new CpuBackend(2)) {
            GgufTensor t = f.tensor("q." + type);
            assertEquals(type, t.typeName());
            Matrix m = t.matrix();
            float[] row = new float[COLS];
            for (int r = 0; r < ROWS; r++) {
                backend.dequantizeRow(m, r, row, 0);
                for (int c = 0; c < COLS; c++) {
                    assertEquals(expected[r * COLS + c], row[c], 0.0f, type + " row " + r + " col " + c);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void matmulOverEncodedRowsMatchesFloat64(String type) throws Exception {
        float[] w = expected(type);
        int n = 3;
        float[] x = new float[n * COLS];
        Random random = new Random(type.hashCode());
        for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
        try (GgufFile f = GgufFile.open(fixture("quant-types.gguf")); CpuBackend backend = new CpuBackend(2)) {
            float[] out = new float[n * ROWS];
            backend.matmul(f.tensor("q." + type).matrix(), x, out, n);
            for (int t = 0; t < n; t++) {
                for (int r = 0; r < ROWS; r++) {
                    double sum = 0, magnitude = 0;
                    for (int c = 0; c < COLS; c++) {
                        sum += (double) w[r * COLS + c] * x[t * COLS + c];
                        magnitude += Math.abs((double) w[r * COLS + c] * x[t * COLS + c]);
                    }
                    // float32 accumulation of 512 products: error bounded well below 1e-5 of Σ|w·x|.
                    assertTrue(Math.abs(out[t * ROWS + r] - sum) <= 1e-5 * magnitude,
                            type + " token " + t + " row " + r + ": " + out[t * ROWS + r] + " vs " + sum);
                }
            }
        }
    }

    private static float[] expected(String type) throws Exception {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(fixture("quant-types.expected.f32"))).order(ByteOrder.LITTLE_ENDIAN);
        float[] all = new float[ORDER.size() * ROWS * COLS];
        b.asFloatBuffer().get(all);
        float[] slice = new float[ROWS * COLS];
        System.arraycopy(all, ORDER.indexOf(type) * ROWS * COLS, slice, 0, slice.length);
        return slice;
    }

    private static Path fixture(String name) throws Exception {
        return Path.of(QuantizedTensorFixtureTest.class.getResource("/fixtures/quant/" + name).toURI());
    }
}
