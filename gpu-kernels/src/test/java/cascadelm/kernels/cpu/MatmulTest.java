package cascadelm.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.Quantizer;
import cascadelm.kernels.ReferenceDecoder;
import cascadelm.kernels.TensorType;

/**
 * Matmul against a float64 product of the exactly decoded weights. Tolerance: float32 accumulation error
 * grows like sqrt(K) roundings of 2^-24 relative to Σ|w·x|; 1e-6 · sqrt(K) · Σ|w·x| leaves a wide
 * margin yet is far below the error of a single wrong weight.
 *
 * <p>Q4_0 decoding (one token row, vector paths) multiplies with x quantized to 8-bit blocks as llama.cpp's
 * Q8_0 activations are: it is held to the same tolerance against the float64 product with x quantized by
 * that rule (written here from llama.cpp's quantize_row_q8_0: d = amax / 127, q = roundf(x · (1/d))), and,
 * against the exact x, to the bound the rounding allows: Σ_blocks (d / 2) · Σ_block |w| more.
 */
class MatmulTest {
    private static final CpuBackend TWO = new CpuBackend(2);
    private static final CpuBackend ONE = new CpuBackend(1);

    @AfterAll
    static void close() {
        TWO.close();
        ONE.close();
    }

    private static float[] gaussian(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    private static void check(TensorType type, int rows, int cols, int n, long seed) {
        check(type, rows, cols, n, seed, 0f);
    }

    /** As above with x drawn around {@code xMean} instead of 0. */
    private static void check(TensorType type, int rows, int cols, int n, long seed, float xMean) {
        Random r = new Random(seed);
        float[] values = gaussian(r, rows * cols);
        float[] x = gaussian(r, n * cols);
        for (int i = 0; i < x.length; i++) x[i] += xMean;
        Matrix w = Quantizer.matrix(type, values, rows, cols);
        double[] decoded = ReferenceDecoder.decode(type, Quantizer.quantize(type, values), rows * cols);
        float[] out = new float[n * rows];
        TWO.matmul(w, x, out, n);
        boolean int8 = type == TensorType.Q4_0 && n == 1 && Lanes.QUANT_VECTORS;
        float[] xq = int8 ? quantizedLikeLlamaCpp(x) : x;
        for (int t = 0; t < n; t++) {
            for (int row = 0; row < rows; row++) {
                double sum = 0, magnitude = 0, exact = 0, bound = 0;
                for (int c = 0; c < cols; c++) {
                    double p = decoded[row * cols + c] * xq[t * cols + c];
                    sum += p;
                    magnitude += Math.abs(p);
                    if (int8) {
                        exact += decoded[row * cols + c] * x[t * cols + c];
                        bound += Math.abs(decoded[row * cols + c]) * blockScale(x, t * cols + c) / 2;
                    }
                }
                double err = Math.abs(out[t * rows + row] - sum);
                double tol = 1e-6 * Math.sqrt(cols) * magnitude + 1e-30;
                int tt = t, rr = row;
                assertTrue(err <= tol, () -> type + " " + rows + "x" + cols + " n=" + n + " seed " + seed + " out[" + tt + ","
                        + rr + "]: error " + err + " > " + tol);
                if (int8) {
                    double errExact = Math.abs(out[t * rows + row] - exact), limit = bound + tol;
                    assertTrue(errExact <= limit, () -> type + " " + rows + "x" + cols + " seed " + seed + " out[" + rr
                            + "]: error against the exact x " + errExact + " > the rounding bound " + limit);
                }
            }
        }
    }

    /** x with each block of 32 replaced by d · q, llama.cpp's Q8_0 quantization (roundf: ties away from zero). */
    private static float[] quantizedLikeLlamaCpp(float[] x) {
        float[] y = new float[x.length];
        for (int b = 0; b < x.length; b += 32) {
            float d = blockScale(x, b);
            float id = d != 0 ? 1.0f / d : 0.0f;
            for (int i = b; i < b + 32; i++) {
                float v = x[i] * id;
                y[i] = d * (float) (Math.signum(v) * Math.floor(Math.abs(v) + 0.5));
            }
        }
        return y;
    }

    /** d = amax / 127 of the 32-value block holding x[i]. */
    private static float blockScale(float[] x, int i) {
        float amax = 0;
        for (int j = i - i % 32; j < i - i % 32 + 32; j++) amax = Math.max(amax, Math.abs(x[j]));
        return amax / 127;
    }

    @ParameterizedTest
    @EnumSource(TensorType.class)
    void decodeMatchesFloat64Reference(TensorType type) {
        check(type, 67, 512, 1, 100 + type.ordinal());
        check(type, 9, 2048, 1, 200 + type.ordinal());
    }

    @ParameterizedTest
    @EnumSource(value = TensorType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void decodeWithOffsetActivations(TensorType type) {
        // x far from zero mean: Q4_0 decoding subtracts 8 · d · Σx per block after the fact, which must not
        // lose the result to cancellation. 1056 columns: an odd number of 32-value blocks (33).
        check(type, 19, 1056, 1, 1000 + type.ordinal(), 40f);
        check(type, 19, 1056, 1, 1100 + type.ordinal(), -300f);
    }

    @ParameterizedTest
    @EnumSource(TensorType.class)
    void rowsLongerThanOnePanel(TensorType type) {
        // Rows over PackedMatrix.PANEL_COLS are kept in column panels: two full panels and a partial one
        // (1280 columns), through decoding, the small-batch tiles and the broadcast kernel; x off zero mean too.
        int cols = 2 * PackedMatrix.PANEL_COLS + 1280;
        check(type, 21, cols, 1, 1200 + type.ordinal());
        check(type, 7, cols, 1, 1300 + type.ordinal(), 40f);
        check(type, 11, cols, 3, 1400 + type.ordinal());
        check(type, 13, cols, 40, 1500 + type.ordinal());
    }

    @ParameterizedTest
    @EnumSource(TensorType.class)
    void smallBatchMatchesFloat64Reference(TensorType type) {
        check(type, 33, 512, 3, 300 + type.ordinal());
    }

    @ParameterizedTest
    @EnumSource(TensorType.class)
    void prefillBatchMatchesFloat64Reference(TensorType type) {
        check(type, 64, 512, 64, 400 + type.ordinal());
        // 2304 columns: two full column tiles and a partial one; 37 rows: a partial row tile and register tile.
        check(type, 37, 2304, 9, 500 + type.ordinal());
    }

    @ParameterizedTest
    @EnumSource(TensorType.class)
    void wideBatchTails(TensorType type) {
        // From Matmul.WIDE tokens the broadcast kernel runs: 16 tokens (one token vector), 17 (padded to two),
        // 48 (a pair and a single); 67 and 130 rows: partial register tiles and a partial 64-row panel;
        // 768 columns: three column panels.
        check(type, 67, 768, 16, 900 + type.ordinal());
        check(type, 67, 768, 17, 910 + type.ordinal());
        check(type, 130, 512, 48, 920 + type.ordinal());
        // 40 tokens: a full 32-token block and an 8-token one (one 8-lane vector); 24 (17 padded): an 8-lane
        // pair and a single in one partial block.
        check(type, 67, 768, 40, 930 + type.ordinal());
    }

    @ParameterizedTest
    @EnumSource(TensorType.class)
    void wideBatchOverSeveralTokenPasses(TensorType type) {
        // More than Matmul.TOKENS rows: two passes, the second of 18 tokens.
        check(type, 9, 256, Matmul.TOKENS + 18, 950 + type.ordinal());
    }

    @ParameterizedTest
    @EnumSource(TensorType.class)
    void singleBlockRowsOfOddCount(TensorType type) {
        for (int n : new int[] {1, 3, 64}) {
            check(type, 13, type.blockSize, n, 600 + n + type.ordinal());
        }
    }

    @ParameterizedTest
    @EnumSource(value = TensorType.class, names = {"F32", "F16", "BF16"})
    void columnsOffTheVectorWidth(TensorType type) {
        for (int n : new int[] {1, 2, 5, 16, 33}) {
            check(type, 11, 37, n, 700 + n);
            check(type, 5, 1029, n, 710 + n);
        }
    }

    @ParameterizedTest
    @EnumSource(TensorType.class)
    void oneAndTwoThreadsGiveIdenticalResults(TensorType type) {
        Random r = new Random(800 + type.ordinal());
        int rows = 45, cols = 1024;
        Matrix w = Quantizer.matrix(type, gaussian(r, rows * cols), rows, cols);
        for (int n : new int[] {1, 7, 64, 100}) {
            float[] x = gaussian(r, n * cols);
            float[] a = new float[n * rows];
            float[] b = new float[n * rows];
            ONE.matmul(w, x, a, n);
            TWO.matmul(w, x, b, n);
            // Each output is one task's work whichever thread runs it; the tolerance only covers a row
            // that the interpreter and compiled code reduce in different lane orders.
            assertArrayEquals(a, b, 1e-4f, type + " n=" + n);
        }
    }

    @ParameterizedTest
    @EnumSource(TensorType.class)
    void float32ActivationsDecodeWithinTheFloat32Tolerance(TensorType type) {
        // The backend the GPU tests compare against: Q4_0 decoding too must then be float32 throughout.
        try (CpuBackend float32 = new CpuBackend(2, false)) {
            // 1280 columns: 40 blocks of 32 (five of 256); two full panels and a partial one
            for (int cols : new int[] {1280, 2 * PackedMatrix.PANEL_COLS + 1280}) {
                Random r = new Random(1600 + type.ordinal() + cols);
                int rows = 37;
                float[] values = gaussian(r, rows * cols);
                float[] x = gaussian(r, cols);
                Matrix w = Quantizer.matrix(type, values, rows, cols);
                double[] decoded = ReferenceDecoder.decode(type, Quantizer.quantize(type, values), rows * cols);
                float[] out = new float[rows];
                float32.matmul(w, x, out, 1);
                for (int row = 0; row < rows; row++) {
                    double sum = 0, magnitude = 0;
                    for (int c = 0; c < cols; c++) {
                        sum += decoded[row * cols + c] * x[c];
                        magnitude += Math.abs(decoded[row * cols + c] * x[c]);
                    }
                    double err = Math.abs(out[row] - sum), tol = 1e-6 * Math.sqrt(cols) * magnitude;
                    int rr = row;
                    assertTrue(err <= tol, () -> type + " " + cols + " columns, row " + rr + ": error " + err + " > " + tol);
                }
            }
        }
    }

    @Test
    void productsOfOneInputAsOneCallMatchOneByOne() {
        // Q, K, V-like shapes of mixed types (Q4_0 in groups, F16 and Q8_0 in place), rows over two panels too.
        Random r = new Random(77);
        for (int cols : new int[] {512, 2 * PackedMatrix.PANEL_COLS + 256}) {
            Matrix[] ws = {
                    Quantizer.matrix(TensorType.Q4_0, gaussian(r, 67 * cols), 67, cols),
                    Quantizer.matrix(TensorType.F16, gaussian(r, 16 * cols), 16, cols),
                    Quantizer.matrix(TensorType.Q8_0, gaussian(r, 5 * cols), 5, cols),
                    Quantizer.matrix(TensorType.Q4_0, gaussian(r, 32 * cols), 32, cols)};
            for (int n : new int[] {1, 3, 20}) {
                float[] x = gaussian(r, n * cols);
                float[][] together = new float[ws.length][];
                for (int i = 0; i < ws.length; i++) together[i] = new float[n * ws[i].rows()];
                TWO.matmuls(ws, x, together, n);
                for (int i = 0; i < ws.length; i++) {
                    float[] alone = new float[n * ws[i].rows()];
                    TWO.matmul(ws[i], x, alone, n);
                    // The same kernels on the same rows; the tolerance only covers a lane reduction that the
                    // interpreter and the compiled code order differently (as in oneAndTwoThreadsGiveIdenticalResults).
                    assertArrayEquals(alone, together[i], 1e-4f, "matrix " + i + " of " + cols + " columns, n=" + n);
                }
            }
        }
        Matrix a = Quantizer.matrix(TensorType.F16, new float[64], 2, 32), b = Quantizer.matrix(TensorType.F16, new float[128], 2, 64);
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> TWO.matmuls(new Matrix[] {a, b}, new float[64], new float[][] {new float[2], new float[2]}, 1));
    }

    @Test
    void decodeReadsEveryHalfLikeTheJdk() {
        // Row h holds the half with bits h at column h % 32 and zeros elsewhere; x is all ones, so out[h] is
        // that half's value: every one of the 65,536 codes (subnormals, ±0, ±infinity, NaNs) at every
        // position of a vector, against Float.float16ToFloat.
        int rows = 1 << 16, cols = 32;
        MemorySegment data = Arena.ofAuto().allocate(2L * rows * cols, 64);
        for (int h = 0; h < rows; h++) {
            data.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * (h * cols + h % cols), (short) h);
        }
        float[] x = new float[cols];
        Arrays.fill(x, 1f);
        float[] out = new float[rows];
        // Several rounds: the first runs interpreted, the later ones the C2 code with vector conversions.
        for (int round = 0; round < 4; round++) {
            TWO.matmul(new Matrix(TensorType.F16, data, rows, cols), x, out, 1);
            for (int h = 0; h < rows; h++) {
                float expected = Float.float16ToFloat((short) h);
                int code = h, rnd = round;
                assertTrue(Float.isNaN(expected) ? Float.isNaN(out[h]) : out[h] == expected,
                        () -> "round " + rnd + ", half 0x" + Integer.toHexString(code) + ": " + out[code] + ", expected " + expected);
            }
        }
    }

    @Test
    void defaultThreadCountIsTheProcessorCount() {
        try (CpuBackend b = new CpuBackend(0)) {
            assertTrue(b.threads() == Runtime.getRuntime().availableProcessors());
        }
    }
}
